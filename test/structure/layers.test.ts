/**
 * The layout rules of CONTRIBUTING.md: the core entry loads no TensorFlow.js, and imports
 * between the folders of src/ point one way, down the data flow.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The layers, bottom first. Folders on one rank may not import each other. */
const LAYERS: string[][] = [
  ['.'], // errors, validate, options, random, colour, limit, durable, version
  ['dataset'],
  ['stages'],
  ['pipeline'],
  ['pool'],
  ['loader'],
  ['colour-stats', 'preview', 'tfjs'],
  ['model'],
  ['eval'],
  ['train'],
  ['cli'],
];
/** Entry files, allowed to re-export from any layer at or below their own folder's. */
const ENTRIES = new Set(['index.ts']);

const rankOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((folder) => [folder, rank] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file: static `import`/`export ... from` and dynamic `import()`. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specifiers.map((specifier) => relative('src', resolve(dirname(file), specifier)).replace(/\.js$/, '.ts'));
}

const folderOf = (path: string) => (path.includes('/') ? path.split('/')[0]! : '.');

function arrows(): Array<{ from: string; to: string }> {
  return sourceFiles('src').flatMap((file) => importsOf(file).map((to) => ({ from: relative('src', file), to })));
}

/** Runs `node -e` with a probe printing which @tensorflow files the given entry loaded. */
function tfjsLoadedBy(entry: string): { files: string[]; engine: boolean } {
  const script = `
    const { createRequire } = await import('node:module');
    await import(${JSON.stringify(resolve(entry))});
    const cache = createRequire(import.meta.url).cache;
    console.log(JSON.stringify({ files: Object.keys(cache).filter((k) => k.includes('@tensorflow')), engine: globalThis._tfengine !== undefined }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!);
}

describe('src/ layout', () => {
  it("import('patchstream') - the core entry loads no @tensorflow module; patchstream/train does", () => {
    const core = tfjsLoadedBy('dist/index.js');
    expect(core.files).toEqual([]);
    expect(core.engine).toBe(false);
    // The probe itself works: the train entry loads tfjs, and the probe sees it.
    const trainEntry = tfjsLoadedBy('dist/train/index.js');
    expect(trainEntry.files.length).toBeGreaterThan(0);
    expect(trainEntry.engine).toBe(true);
  });

  it('src/ - every folder is in a layer, and imports between folders only point down', () => {
    const found = arrows();
    expect(found.length).toBeGreaterThan(100);
    const folders = new Set(sourceFiles('src').map((file) => folderOf(relative('src', file))));
    for (const folder of folders) expect(rankOf.has(folder), `src/${folder} is not in LAYERS`).toBe(true);
    const upward = found.filter(({ from, to }) => {
      const source = folderOf(from);
      const target = folderOf(to);
      if (source === target) return false;
      if (ENTRIES.has(from)) return false; // src/index.ts, the core entry
      return rankOf.get(target)! >= rankOf.get(source)!;
    });
    expect(upward.map(({ from, to }) => `${from} -> ${to}`)).toEqual([]);
  });

  it('src/ - no cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const { from, to } of arrows()) {
      if (ENTRIES.has(from)) continue;
      const a = folderOf(from);
      const b = folderOf(to);
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
        return;
      }
      state.set(node, 'visiting');
      for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
      state.set(node, 'done');
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
