import yoctoSpinner, { type Spinner } from 'yocto-spinner';

/** A spinner with the elapsed time, for waits a person watches; silent where nobody watches. */
export interface Progress {
  start(text: string): void;
  /** Stops and clears the spinner line; prints nothing. */
  stop(): void;
}

/** A terminal that shows a spinner: a TTY, not `TERM=dumb`, not CI (CI logs want plain lines). */
export const isInteractive = (
  stream: { readonly isTTY?: boolean | undefined },
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean => stream.isTTY === true && env.TERM !== 'dumb' && env.CI === undefined;

export const noProgress: Progress = { start: () => undefined, stop: () => undefined };

/** Elapsed time as people read it: 0.4 s, 12 s, 2 min 05 s. */
export const formatElapsed = (ms: number): string => {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
};

/** A spinner on `stream` (stderr by default) when it is interactive; otherwise nothing at all. */
export const spinnerProgress = (
  stream: NodeJS.WriteStream = process.stderr,
  interactive: boolean = isInteractive(stream),
): Progress => {
  if (!interactive) return noProgress;
  let spinner: Spinner | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    spinner?.stop();
    spinner = undefined;
  };
  return {
    start(text) {
      stop();
      const t0 = performance.now();
      const render = () => `${text} ${formatElapsed(performance.now() - t0)}`;
      spinner = yoctoSpinner({ text: render(), stream }).start();
      timer = setInterval(() => {
        if (spinner) spinner.text = render();
      }, 200);
      timer.unref();
    },
    stop,
  };
};
