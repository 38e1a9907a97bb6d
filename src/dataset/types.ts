/** One labelled image. `path` is absolute or relative to the process's working directory. */
export interface Sample {
  path: string;
  label: number;
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
}
