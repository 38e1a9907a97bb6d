/** A tfjs LayersModel to and from the in-memory artifacts a checkpoint stores. */
import type { ModelArtifactsLike } from './checkpoint.js';
import { layerClasses } from './layers.js';
import type { Tfjs } from './tfjs.js';

/** A tfjs LayersModel (of whichever tfjs namespace built it). */
export type LayersModel = Awaited<ReturnType<Tfjs['loadLayersModel']>>;

/** The model's topology and weights, in memory (one weights buffer). */
export async function captureArtifacts(tf: Tfjs, model: LayersModel): Promise<ModelArtifactsLike> {
  let captured: ModelArtifactsLike | null = null;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const data = artifacts.weightData;
    const weightData = Array.isArray(data) ? concatBuffers(data as ArrayBuffer[]) : (data as ArrayBuffer);
    captured = { modelTopology: artifacts.modelTopology, weightSpecs: (artifacts.weightSpecs ?? []) as never, weightData };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return captured!;
}

/** Rebuilds a model from {@link captureArtifacts}'s output (or a loaded checkpoint's `model`). */
export async function modelFromArtifacts(tf: Tfjs, artifacts: ModelArtifactsLike): Promise<LayersModel> {
  layerClasses(tf); // GroupedConv2D and LRN must be registered before the topology is read
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology as object, weightSpecs: artifacts.weightSpecs as never, weightData: artifacts.weightData }));
}

function concatBuffers(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return out.buffer;
}
