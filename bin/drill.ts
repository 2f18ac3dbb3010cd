/**
 * The local failover drill (`npm run drill`): the product's own module (functions/drill/) run on an
 * embedded AWS emulator. No AWS account, no network.
 */
import { runDrill } from '../functions/drill/run';

process.exit(await runDrill());
