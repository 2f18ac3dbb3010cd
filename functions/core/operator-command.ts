/**
 * The operator CLI's name, and how people are told to run it (in Slack, help texts and the README).
 * `understudy` on its own is someone else's package in the public npm registry; `npx --no-install`
 * runs this project's own bin or fails, so a typo or a missing install never fetches a stranger's code.
 */
export const CLI_NAME = 'understudyctl';

/** The command line that runs the CLI from the project's directory. */
export const CLI_RUN = `npx --no-install ${CLI_NAME}`;

/** A full command an operator can paste, e.g. `operatorCommand('failback', 'shop')`. */
export const operatorCommand = (...words: readonly string[]): string => [CLI_RUN, ...words].join(' ');
