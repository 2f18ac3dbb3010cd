import { classifyAwsError } from '../core/errors';
import { guardedAttempt } from '../engine/call-guard';
import { withRequestBudget } from './request-budget';

/** What the kit relies on in every AWS SDK v3 client (each service types its middleware its own way). */
export interface SdkClient {
  readonly config: { readonly serviceId?: string };
  readonly middlewareStack: {
    // biome-ignore lint/suspicious/noExplicitAny: each client's middleware is typed by its own service.
    add(middleware: any, options: any): void;
  };
}

type Next = (args: unknown) => Promise<unknown>;

export interface ClientConfig {
  readonly region: string;
  readonly maxAttempts?: number;
}

export type ClientClass<C extends SdkClient> = new (config: ClientConfig) => C;

/**
 * The control plane's AWS clients: one per client class and Region per container, created on first
 * use (a function loads and builds only the clients its capabilities call). Every client classifies
 * its failures once, as middleware, into RetryableError / TerminalError with the SDK error as cause,
 * so executors need no wrapper of their own, and runs every attempt of a mutating call through the
 * engine's call guard (functions/engine/call-guard.ts). Endpoints come from the SDK's own configuration
 * (AWS_ENDPOINT_URL), never from code.
 */
export interface ClientKit {
  /** The control plane's own Region: the default of `client`. */
  readonly region: string;
  client<C extends SdkClient>(type: ClientClass<C>, region?: string): C;
}

export interface ClientKitOptions {
  readonly region: string;
  /** The SDK's attempts per call (default: the SDK's 3). The CLI and tests fail faster. */
  readonly maxAttempts?: number;
  /**
   * Route 53 requests per second from this process (default 0.5); the account allows 5 for everyone,
   * and functions/runtime/route53-shares.ts divides them among the control plane's processes.
   */
  readonly route53PerSecond?: number;
}

/** The SDK error inside a classified one (its `name` says e.g. DBInstanceNotFoundFault). */
export const sdkErrorName = (error: unknown): string | undefined => {
  const cause = (error as { cause?: unknown })?.cause;
  const inner = cause instanceof Error ? cause : error;
  return inner instanceof Error ? inner.name : undefined;
};

export const createClientKit = (options: ClientKitOptions): ClientKit => {
  const clients = new Map<unknown, Map<string, SdkClient>>();
  return {
    region: options.region,
    client<C extends SdkClient>(type: ClientClass<C>, region: string = options.region): C {
      const byRegion = clients.get(type) ?? new Map<string, SdkClient>();
      clients.set(type, byRegion);
      const existing = byRegion.get(region);
      if (existing) return existing as C;
      const client = new type({
        region,
        ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
      });
      client.middlewareStack.add(
        (next: Next, context: { clientName?: string; commandName?: string }) => async (args: unknown) => {
          try {
            return await next(args);
          } catch (error) {
            const service = (context.clientName ?? 'AWS').replace(/Client$/, '');
            throw classifyAwsError(
              `${service} ${(context.commandName ?? 'call').replace(/Command$/, '')}`,
              error,
            );
          }
        },
        { step: 'initialize', name: 'understudyClassifyErrors', override: true },
      );
      // The fence at the last moment: after the SDK's retry loop and the request budget, so every
      // attempt of a mutating call (retries included) is checked against the epoch and the lease.
      client.middlewareStack.add(
        (next: Next, context: { clientName?: string; commandName?: string }) => (args: unknown) =>
          guardedAttempt(context.clientName ?? '', context.commandName ?? '', () => next(args)),
        { step: 'finalizeRequest', priority: 'low', name: 'understudyCallGuard', override: true },
      );
      if (client.config.serviceId === 'Route 53') {
        withRequestBudget(client as never, options.route53PerSecond ?? 0.5);
      }
      byRegion.set(region, client);
      return client;
    },
  };
};
