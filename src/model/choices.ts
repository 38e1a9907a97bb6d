/**
 * The names the model layer accepts, in a module that loads no tfjs, so the CLI can offer them
 * as choices (and validate them) before it loads the trainer.
 */

/** Which network to build. */
export type ModelName = 'alexnet' | 'alexnet-small';

/** Every {@link ModelName}. */
export const MODEL_NAMES: readonly ModelName[] = Object.freeze(['alexnet', 'alexnet-small']);

/** What `selectBackend` may be asked for. */
export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** Every {@link BackendPreference}, `auto` first. */
export const BACKEND_PREFERENCES: readonly BackendPreference[] = Object.freeze(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
