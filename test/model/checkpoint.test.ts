import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, removeStaleTemporaries, saveCheckpoint, type ModelArtifactsLike } from '../../src/model/checkpoint.js';
import { temporaryFolder } from '../helpers.js';

const folder = temporaryFolder();
afterAll(() => folder.remove());

function artifacts(seed: number): ModelArtifactsLike {
  const weights = Float32Array.from({ length: 6 }, (_, i) => seed + i / 10);
  return { modelTopology: { class_name: 'Toy', seed }, weightSpecs: [{ name: 'dense/kernel', shape: [2, 3], dtype: 'float32' }], weightData: weights.buffer };
}

describe('saveCheckpoint() / loadCheckpoint()', () => {
  it('saveCheckpoint() - round trip of weights, optimizer state and state; latest points at the newest; old ones pruned', async () => {
    const out = join(folder.dir, 'run');
    for (let epoch = 1; epoch <= 4; epoch++) {
      await saveCheckpoint(out, {
        model: artifacts(epoch),
        optimizer: [{ name: 'velocity/dense/kernel', shape: [2, 3], data: Float32Array.from({ length: 6 }, () => -epoch) }],
        state: { epoch, step: 0, classes: ['a', 'b'], seed: 7 },
      }, 3);
    }
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['epoch-0002-step-000000', 'epoch-0003-step-000000', 'epoch-0004-step-000000']);
    const loaded = await loadCheckpoint(out);
    expect(loaded.path).toBe(resolve(out, 'checkpoints/epoch-0004-step-000000'));
    expect(loaded.state).toMatchObject({ epoch: 4, step: 0, classes: ['a', 'b'], seed: 7 });
    expect(Array.from(new Float32Array(loaded.model.weightData))).toEqual(Array.from(Float32Array.from({ length: 6 }, (_, i) => 4 + i / 10)));
    expect(loaded.optimizer[0]!.data).toEqual(Float32Array.from({ length: 6 }, () => -4));
    expect((await loadCheckpoint(join(out, 'checkpoints/epoch-0002-step-000000'))).state.epoch).toBe(2);
  });

  it('loadCheckpoint() - refuses weight paths outside the folder, truncated weights and missing files', async () => {
    const out = join(folder.dir, 'tampered');
    const path = await saveCheckpoint(out, { model: artifacts(1), optimizer: [], state: { epoch: 1, step: 0, classes: ['a'] } });
    const modelJson = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8'));
    modelJson.weightsManifest[0].paths = ['../../secret'];
    writeFileSync(join(path, 'model.json'), JSON.stringify(modelJson));
    await expect(loadCheckpoint(path)).rejects.toThrow(/weight path "\.\.\/\.\.\/secret" .* refused/);
    modelJson.weightsManifest[0].paths = ['weights.bin'];
    writeFileSync(join(path, 'model.json'), JSON.stringify(modelJson));
    writeFileSync(join(path, 'weights.bin'), Buffer.alloc(10));
    await expect(loadCheckpoint(path)).rejects.toThrow(/weights\.bin: has 10 bytes, model\.json describes 24/);
    await expect(loadCheckpoint(join(folder.dir, 'nothing'))).rejects.toThrow(/not a checkpoint folder/);
  });

  it('saveCheckpoint() - SIGKILL in the middle of a write leaves the previous checkpoint loadable', async () => {
    const out = join(folder.dir, 'killed');
    await saveCheckpoint(out, { model: artifacts(1), optimizer: [], state: { epoch: 1, step: 0, classes: ['a'] } });
    const script = `
      import { saveCheckpoint } from ${JSON.stringify(resolve('dist/model/checkpoint.js'))};
      const weights = new Float32Array(6).fill(9);
      await saveCheckpoint(${JSON.stringify(out)}, { model: { modelTopology: {}, weightSpecs: [{ name: 'w', shape: [6], dtype: 'float32' }], weightData: weights.buffer }, optimizer: [], state: { epoch: 2, step: 0, classes: ['a'] } });
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, PATCHSTREAM_CHECKPOINT_FAULT: 'kill-after-weights' } });
    expect(child.signal).toBe('SIGKILL');
    expect(readdirSync(join(out, 'checkpoints')).some((name) => name.includes('.tmp-'))).toBe(true);
    const loaded = await loadCheckpoint(out);
    expect(loaded.state.epoch).toBe(1);
    expect(await removeStaleTemporaries(out)).toHaveLength(1);
    expect(readdirSync(join(out, 'checkpoints'))).toEqual(['epoch-0001-step-000000']);
    expect(existsSync(join(out, 'latest'))).toBe(true);
  });
});
