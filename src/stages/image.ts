/** An image as a plain interleaved (HWC) pixel array. The reference stages work on these. */
export interface RawImage<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  data: T;
  width: number;
  height: number;
  channels: 3;
}

/** A patch: its top-left corner in the prepared square and whether it is mirrored. */
export interface PatchParams {
  x: number;
  y: number;
  flip: boolean;
}
