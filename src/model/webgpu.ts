/**
 * The WebGPU runtime of the trainer: `@tensorflow/tfjs-backend-webgpu` on Dawn's Node bindings
 * (npm `webgpu`, a prebuilt `dawn.node`: Vulkan on Linux, Metal on macOS, D3D12 on Windows).
 *
 * Why patchstream registers the backend itself instead of letting the package do it:
 * - tfjs-backend-webgpu registers `webgpu` at import time only when `globalThis.navigator.gpu`
 *   exists (Node 20 has no `navigator`), and then takes whatever adapter
 *   `requestAdapter({ powerPreference: 'high-performance' })` gives, software or not. Here the
 *   adapter is requested first, described (vendor, architecture, description, software or
 *   not) and refused when it is software and software was not asked for.
 * - Its `readSync` (what `dataSync()`/`arraySync()` use) copies through an `OffscreenCanvas`,
 *   which Node does not have: the error was `OffscreenCanvas is not defined`, from deep inside
 *   tfjs. Dawn cannot map a buffer synchronously either, so the backend used here refuses a
 *   synchronous read of device data with an error that says to use `await tensor.data()`.
 * - Dawn keeps the process alive while the object `create()` returned is reachable
 *   (dawn-gpu/node-webgpu README, "Lifetime"): {@link closeWebgpu} removes the backend
 *   (freeing its buffers), destroys the device and drops every reference, so a process that
 *   trained on WebGPU exits by itself.
 */
import { reasonOf } from '../errors.js';
import type { Tfjs } from './tfjs.js';
import { registerWebgpuTrainingKernels } from './webgpu-kernels.js';

/** What the adapter says about itself (`GPUAdapter.info`), plus patchstream's software verdict. */
export interface WebgpuAdapter {
  /** e.g. `nvidia`, `amd`, `intel`, `apple`, `mesa`. */
  vendor: string;
  /** e.g. `hopper`, `rdna-3`, `gen-12lp`, `software`. */
  architecture: string;
  /** e.g. `llvmpipe-llvm-15-0-6-256-bits-`; often empty on hardware. */
  device: string;
  /** e.g. `NVIDIA H200`, `llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)`. */
  description: string;
  /** A CPU implementation of the GPU API (lavapipe/llvmpipe, SwiftShader, WARP). */
  software: boolean;
  /** Why it counts as software (empty for hardware). */
  softwareReason: string;
}

/** Options of {@link initWebgpu}. */
export interface WebgpuOptions {
  /** Accept a software adapter (lavapipe, SwiftShader). `auto` does not; `--backend webgpu` does. @default false */
  allowSoftware?: boolean;
  /** Extra Dawn toggles for `create()`, e.g. `['backend=vulkan']` or `['adapter=NVIDIA H200']`. @default from PATCHSTREAM_DAWN_FLAGS (comma-separated), else none */
  dawnFlags?: string[];
  /** Progress lines (the adapter picked, uncaptured device errors). */
  log?: (line: string) => void;
}

/** The running WebGPU backend. */
export interface WebgpuRuntime {
  adapter: WebgpuAdapter;
  /** One line for humans: `webgpu (NVIDIA H200, nvidia hopper; hardware; ...)`. */
  detail: string;
  /**
   * Throws if the device reported an error since the last call (validation, out of memory):
   * WebGPU drops a command it rejects and carries on, so results computed since are wrong.
   * Call it after reading results back (the errors arrive asynchronously).
   */
  throwIfDeviceError(): void;
  /** Same as {@link closeWebgpu}. */
  close(): Promise<void>;
}

/** The subset of WebGPU's API used here (the full types come from `@webgpu/types`). */
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> & { isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor?: { requiredFeatures?: string[]; requiredLimits?: Record<string, number> }): Promise<DeviceLike>;
}
interface DeviceLike {
  destroy(): void;
  lost: Promise<{ reason: string; message: string }>;
  addEventListener?(type: 'uncapturederror', listener: (event: { error: { message: string } }) => void): void;
}
interface WebgpuPackage {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface TfWebgpuPackage {
  WebGPUBackend: new (device: DeviceLike, adapterInfo?: unknown) => object;
}

/** The one live runtime of this process (tfjs's backend registry is process-global too). */
let current: {
  gpu: GpuLike; device: DeviceLike; adapter: WebgpuAdapter; detail: string; setNavigator: boolean; closed: boolean;
  /** Uncaptured device errors not yet thrown by throwIfDeviceError: the first message and the count. */
  errors: { first: string; count: number } | null;
} | null = null;
let packages: Promise<{ dawn: WebgpuPackage; tfWebgpu: TfWebgpuPackage }> | null = null;
let addedKernels: string[] = [];

/** The limits tfjs-backend-webgpu's own factory raises to the adapter's maximum (base.ts, 4.22). */
const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

/**
 * Says whether an adapter is a software implementation, and why: the adapter's own
 * `isFallbackAdapter`, an architecture of `software` (Mesa reports that for llvmpipe), or a
 * known software rasteriser in its description (llvmpipe, lavapipe, SwiftShader, WARP /
 * Microsoft Basic Render Driver).
 *
 * @returns the reason, or `''` for hardware
 * @example
 * softwareReason({ vendor: 'mesa', architecture: 'software', device: '', description: 'llvmpipe: Mesa 25.0.7' }); // 'architecture "software"'
 */
export function softwareReason(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): string {
  if (info.isFallbackAdapter === true) return 'isFallbackAdapter';
  if ((info.architecture ?? '').toLowerCase() === 'software') return 'architecture "software"';
  const text = `${info.description ?? ''} ${info.device ?? ''} ${info.vendor ?? ''}`;
  const known = /llvmpipe|lavapipe|swiftshader|microsoft basic render|\bwarp\b|softpipe/i.exec(text);
  return known ? `"${known[0]}" in its description` : '';
}

function describe(adapter: AdapterLike): WebgpuAdapter {
  const info = adapter.info ?? {};
  const fields = {
    vendor: String(info.vendor ?? ''),
    architecture: String(info.architecture ?? ''),
    device: String(info.device ?? ''),
    description: String(info.description ?? ''),
  };
  const reason = softwareReason({ ...fields, isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false });
  return { ...fields, software: reason !== '', softwareReason: reason };
}

/** `NVIDIA H200 (nvidia hopper)` or `llvmpipe: Mesa ... (mesa software)`. */
export function adapterLabel(adapter: WebgpuAdapter): string {
  const name = adapter.description || adapter.device || 'unnamed adapter';
  const kind = [adapter.vendor, adapter.architecture].filter(Boolean).join(' ');
  return kind ? `${name} (${kind})` : name;
}

function loadPackages(): Promise<{ dawn: WebgpuPackage; tfWebgpu: TfWebgpuPackage }> {
  packages ??= (async () => {
    // Imported before navigator.gpu exists, so the package registers its kernels but not its
    // own backend factory (which would pick an adapter itself).
    const [dawn, tfWebgpu] = await Promise.all([import('webgpu'), import('@tensorflow/tfjs-backend-webgpu')]);
    return { dawn: dawn as unknown as WebgpuPackage, tfWebgpu: tfWebgpu as unknown as TfWebgpuPackage };
  })();
  packages.catch(() => {
    packages = null;
  });
  return packages;
}

function dawnFlags(options: WebgpuOptions): string[] {
  if (options.dawnFlags) return options.dawnFlags;
  const fromEnv = process.env['PATCHSTREAM_DAWN_FLAGS'];
  return fromEnv ? fromEnv.split(',').map((flag) => flag.trim()).filter(Boolean) : [];
}

/**
 * Starts tfjs's WebGPU backend on Dawn and makes it the current backend: requests a
 * high-performance adapter, refuses a software one unless `allowSoftware`, requests a device
 * with the adapter's full buffer and workgroup limits (as tfjs's own factory does), registers
 * the backend as `webgpu` with the training kernels patchstream adds
 * ({@link registerWebgpuTrainingKernels}), and sets it. Calling it again while the runtime
 * is open only sets the backend again.
 *
 * @throws Error naming the stage and the reason: the packages did not load, there is no
 *   adapter (no Vulkan/Metal/D3D12 driver: on Linux install Mesa's lavapipe or the GPU
 *   vendor's Vulkan driver; in an NVIDIA container, `NVIDIA_DRIVER_CAPABILITIES` must include
 *   `graphics`), the adapter is software and `allowSoftware` is false, or the device request
 *   failed.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * const gpu = await initWebgpu(tf, { allowSoftware: true });
 * console.log(gpu.detail);
 * // ... train ...
 * await gpu.close();
 * ```
 */
export async function initWebgpu(tf: Tfjs, options: WebgpuOptions = {}): Promise<WebgpuRuntime> {
  const log = options.log ?? (() => undefined);
  if (current !== null && !current.closed) {
    if (current.adapter.software && options.allowSoftware !== true) {
      throw new Error(`only a software adapter is available: ${adapterLabel(current.adapter)} (${current.adapter.softwareReason}); it is used only when asked for (--backend webgpu)`);
    }
    if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false (tfjs printed the cause above)");
    await tf.ready();
    return runtimeOf(current);
  }

  let loaded: Awaited<ReturnType<typeof loadPackages>>;
  try {
    loaded = await loadPackages();
  } catch (error) {
    throw new Error(`loading webgpu / @tensorflow/tfjs-backend-webgpu failed: ${reasonOf(error)}`, { cause: error });
  }
  const { dawn, tfWebgpu } = loaded;
  // GPUBufferUsage, GPUMapMode, ... : tfjs-backend-webgpu reads them as globals.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }

  const flags = dawnFlags(options);
  let gpu: GpuLike;
  try {
    gpu = dawn.create(flags);
  } catch (error) {
    throw new Error(`Dawn create(${JSON.stringify(flags)}) failed: ${reasonOf(error)}`, { cause: error });
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) {
    throw new Error(
      'no WebGPU adapter: Dawn found no usable Vulkan/Metal/D3D12 device (on Linux install a Vulkan driver, e.g. ' +
        "Mesa's mesa-vulkan-drivers >= 23 for lavapipe, or the GPU vendor's; in an NVIDIA container set " +
        'NVIDIA_DRIVER_CAPABILITIES to include graphics)',
    );
  }
  const described = describe(adapter);
  if (described.software && options.allowSoftware !== true) {
    throw new Error(`only a software adapter is available: ${adapterLabel(described)} (${described.softwareReason}); it is used only when asked for (--backend webgpu)`);
  }

  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  let device: DeviceLike;
  try {
    // timestamp-query lets tf.profile() report kernel times, as tfjs's own factory asks for it.
    const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (error) {
    throw new Error(`requestDevice on ${adapterLabel(described)} failed: ${reasonOf(error)}`, { cause: error });
  }

  // WebGPUBackend's constructor asserts navigator.gpu; it is removed again on close.
  const nav = ((globalThis as { navigator?: Record<string, unknown> }).navigator ??= {});
  const setNavigator = nav['gpu'] === undefined;
  if (setNavigator) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  const state: NonNullable<typeof current> = { gpu, device, adapter: described, detail: '', setNavigator, closed: false, errors: null };
  let reported = 0;
  device.addEventListener?.('uncapturederror', (event) => {
    // One line per error up to a few: a broken shader repeats every step.
    if (reported++ < 5) log(`webgpu: device error: ${event.error.message}`);
    if (state.errors === null) state.errors = { first: event.error.message, count: 0 };
    state.errors.count++;
  });

  const NodeWebGPUBackend = nodeBackendClass(tfWebgpu.WebGPUBackend);
  // A backend registered by someone else (a user who set navigator.gpu before importing the
  // package) is replaced: there is one `webgpu` name per process.
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new NodeWebGPUBackend(device, adapter.info) as never, 3);
  addedKernels = registerWebgpuTrainingKernels(tf);
  current = state;
  try {
    if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false (tfjs printed the cause above)");
    await tf.ready();
  } catch (error) {
    await closeWebgpu(tf);
    throw error;
  }
  const extra = addedKernels.length > 0 ? `; ${addedKernels.join(', ')}` : '';
  state.detail = `webgpu (${adapterLabel(described)}; ${described.software ? `software: ${described.softwareReason}` : 'hardware'}${extra})`;
  return runtimeOf(state);
}

function runtimeOf(state: NonNullable<typeof current>): WebgpuRuntime {
  return {
    adapter: { ...state.adapter },
    detail: state.detail,
    throwIfDeviceError: () => {
      const errors = state.errors;
      if (errors === null) return;
      state.errors = null;
      throw new Error(
        // Dawn's first line is the error; the rest is its call-site context.
        `webgpu device error on ${adapterLabel(state.adapter)}: ${errors.first.split('\n')[0]!.trim()}` +
          `${errors.count > 1 ? ` (and ${errors.count - 1} more)` : ''}; the device dropped the rejected work, so the results since are invalid` +
          `${/maxStorageBufferBindingSize|maxBufferSize|maximum (storage buffer binding|buffer) size/i.test(errors.first) ? ' (a tensor is larger than this adapter allows: use a smaller batch or model, or a GPU with larger limits)' : ''}`,
      );
    },
    close: () => closeWebgpu(),
  };
}

/** The open runtime's adapter, or null. */
export function currentWebgpuAdapter(): WebgpuAdapter | null {
  return current !== null && !current.closed ? { ...current.adapter } : null;
}

/**
 * Tears the WebGPU runtime down: removes the `webgpu` backend from tfjs (which frees its
 * buffers; tensors still on it become unusable, so dispose models first), destroys the device,
 * and drops the Dawn instance and `navigator.gpu`, after which the process can exit. A no-op
 * when nothing is open; a later {@link initWebgpu} starts afresh.
 * @example
 * await closeWebgpu();
 */
export async function closeWebgpu(tf?: Tfjs): Promise<void> {
  const state = current;
  if (state === null || state.closed) return;
  state.closed = true;
  current = null;
  const registry = tf ?? (await import('@tensorflow/tfjs'));
  try {
    if (registry.findBackend('webgpu') != null || registry.findBackendFactory('webgpu') != null) registry.removeBackend('webgpu');
  } finally {
    state.device.destroy();
    if (state.setNavigator) {
      const nav = (globalThis as { navigator?: Record<string, unknown> }).navigator;
      if (nav) delete nav['gpu'];
    }
  }
}

/**
 * Probes for an adapter without starting tfjs (for tests and `auto`'s log): the adapter's
 * description, or the reason there is none.
 * @example
 * const probe = await probeWebgpu(); if ('reason' in probe) console.log(probe.reason);
 */
export async function probeWebgpu(flags: string[] = []): Promise<WebgpuAdapter | { reason: string }> {
  try {
    const { dawn } = await loadPackages();
    const adapter = await dawn.create(flags).requestAdapter({ powerPreference: 'high-performance' });
    return adapter === null ? { reason: 'Dawn found no WebGPU adapter (no Vulkan driver: install mesa-vulkan-drivers >= 23 from bookworm-backports for lavapipe)' } : describe(adapter);
  } catch (error) {
    return { reason: `webgpu did not load: ${reasonOf(error)}` };
  }
}

/**
 * WebGPUBackend with a Node-safe `readSync`: data already on the CPU is returned as before;
 * data on the device cannot be read synchronously under Node (tfjs copies it through an
 * OffscreenCanvas, which Node lacks), so that case is a clear error instead.
 */
function nodeBackendClass(Base: TfWebgpuPackage['WebGPUBackend']): TfWebgpuPackage['WebGPUBackend'] {
  type Internals = { tensorMap: { get(dataId: object): { values: unknown; dtype: string } | undefined } };
  const base = Base.prototype as unknown as { readSync(dataId: object): unknown };
  const readSync = base.readSync;
  return class NodeWebGPUBackend extends (Base as new (device: DeviceLike, adapterInfo?: unknown) => object) {
    readSync(dataId: object): unknown {
      const data = (this as unknown as Internals).tensorMap.get(dataId);
      if (data === undefined || data.values != null || data.dtype === 'string') return readSync.call(this, dataId);
      throw new Error(
        'webgpu backend: a synchronous read of device data (dataSync, arraySync, bufferSync) is not possible under Node; ' +
          'use await tensor.data() / tensor.array()',
      );
    }
  };
}
