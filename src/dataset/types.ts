/** One labelled image. `path` is absolute or relative to the process's working directory. */
export interface Sample {
  path: string;
  label: number;
  /**
   * Where the image's bytes are when they are not a file of their own: `length` bytes from
   * byte `offset` of `dataset.shards.locations[shard]` (a WebDataset tar shard). `path` then
   * names the sample for errors (`<shard>#<member>`).
   */
  source?: { shard: number; offset: number; length: number };
}

/** How workers read samples that have a `source` (see {@link webDataset}). Plain, cloneable data. */
export interface ShardStore {
  /** Local paths or `http(s)://` URLs of the shards. */
  locations: string[];
  /** Milliseconds one HTTP request (headers and body) may take. */
  timeoutMs: number;
  /** Further attempts after a failed or cut request (each resumes where the body stopped). */
  retries: number;
  /** Samples of one task closer than this in the same shard are read with one request. */
  gapBytes: number;
  /** Largest read that joins several samples. */
  maxRequestBytes: number;
  /** Extra HTTP request headers (e.g. authorization). */
  headers: Record<string, string>;
}

/**
 * A list of samples and the class names their labels index into.
 * Produced by {@link imageFolder} and {@link listFile}; any object of this shape works.
 */
export interface Dataset {
  samples: Sample[];
  /** `classes[label]` is the class name. */
  classes: string[];
  /** The folder the samples live under, when known. */
  root?: string;
  /** Files seen but not taken (extension not allowed), counted: nothing is dropped silently. */
  ignored?: { count: number; examples: string[] };
  /** Set when samples live in tar shards (WebDataset): how workers read `sample.source`. */
  shards?: ShardStore;
}
