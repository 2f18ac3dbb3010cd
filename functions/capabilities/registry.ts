import { computeModule } from './compute';
import { databaseModule } from './database';
import { dnsModule } from './dns';
import { mailModule } from './mail';

/**
 * Every capability this control plane can fail over, in the order they are planned and reported.
 * The config schema, runtime, CLI, trigger and stack loop over this list; a new capability is a
 * folder under functions/capabilities/ plus one line here (and its infra and drill entries, which
 * the type checker asks for).
 */
export const CAPABILITY_MODULES = [dnsModule, databaseModule, computeModule, mailModule] as const;
