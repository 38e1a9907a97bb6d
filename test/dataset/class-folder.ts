/** An ImageFolder of noise images for the pack and webDataset tests, made with sharp. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** `count` noise images in `classes` class folders, JPEG and PNG, several sizes. */
export async function classFolder(dir: string, count: number, classes = 3): Promise<void> {
  let state = 99;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  for (let i = 0; i < count; i++) {
    const width = 20 + (i % 5) * 7;
    const height = 18 + (i % 3) * 9;
    const data = Buffer.alloc(width * height * 3);
    for (let k = 0; k < data.length; k++) data[k] = next();
    const folder = join(dir, `class-${String.fromCharCode(97 + (i % classes))}`);
    mkdirSync(folder, { recursive: true });
    await sharp(data, { raw: { width, height, channels: 3 } }).toFile(join(folder, `img-${i}.${i % 4 === 1 ? 'png' : 'jpg'}`));
  }
}
