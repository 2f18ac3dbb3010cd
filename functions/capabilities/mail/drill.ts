/**
 * The mail drill: the primary mail server goes down, SES (the backup MX) holds what arrives, the
 * primary returns and the backlog drains back to it. What moto cannot do, the drill does and says
 * so: moto processes no inbound mail, so the drill places each message the way SES's receipt rule
 * would (raw MIME in S3, then the recorder with SES's receipt event); the primary is a real local
 * SMTP server.
 */

import { alarmPath } from '../../drill/local-control-plane';
import { type DrillContext, type DrillScenario, drillLambdaContext } from '../../drill/timeline';
import { createReconcileHandler } from '../../handlers/reconcile';
import {
  type LocalMail,
  MAIL_ALARM,
  MAIL_DOMAIN,
  sesMessageId,
  sesStoredMime,
  startLocalMail,
} from './local';
import { type LocalPrimary, startLocalPrimary } from './local-primary';

const BACKLOG = 25;

export const mailDrill: DrillScenario = {
  name: 'mail',
  async run(context: DrillContext) {
    let primary: LocalPrimary | undefined;
    let local: LocalMail | undefined;
    try {
      await context.step('provision bucket, receipt rule, state table; primary SMTP server', async () => {
        primary = await startLocalPrimary();
        // Small batches, so the drain takes several scheduled runs and the timeline shows it.
        local = await startLocalMail(context.endpoint, primary, {
          maxAttempts: 3,
          mail: { limits: { maxMessagesPerRun: 10, maxBytesPerRun: 64 * 1024 * 1024, maxPurgesPerRun: 50 } },
        });
        return { ok: true, detail: `bucket ${local.bucket}, primary smtp://${primary.host}:${primary.port}` };
      });
      if (!local || !primary) return;
      const l: LocalMail = local;
      const p: LocalPrimary = primary;
      const alarms = alarmPath(l.clients.cloudwatch, () => l.controlPlane());
      const invokeSchedule = createReconcileHandler(() => l.controlPlane());
      const alarm = async (value: 'ALARM' | 'OK', reason: string) =>
        (await alarms.set(MAIL_ALARM, value, reason, l.clock.now())).outcomes;
      const counts = async () => {
        const { messages } = await l.store.read('shop');
        const by = (s: string) => messages.filter((m) => m.status === s).length;
        return { held: by('held') + by('delivering'), delivered: by('delivered'), rejected: by('rejected') };
      };

      await context.step('primary mail server goes down; its alarm goes to ALARM', async () => {
        await p.setMode('refuse');
        const [outcome] = await alarm('ALARM', 'Threshold Crossed: SMTP check failing');
        return {
          ok: outcome?.kind === 'transitioned',
          detail: `${outcome?.kind}: mail desired on the standby (SES holds); receipt rule set activated`,
        };
      });

      await context.step(
        `${BACKLOG} messages arrive at the backup MX (SES stores, recorder records)`,
        async () => {
          for (let n = 0; n < BACKLOG; n++) {
            const messageId = sesMessageId(n);
            const receivedAt = new Date(l.clock.now().getTime() + n * 1000);
            const to = `orders${n % 3}@${MAIL_DOMAIN}`;
            await l.receive({
              messageId,
              receivedAt,
              mailFrom: `customer${n}@sender.test`,
              recipients: [to],
              raw: sesStoredMime({
                messageId,
                receivedAt,
                from: `customer${n}@sender.test`,
                to,
                subject: `Order ${n}`,
                body: `Order ${n}: Grüße ✓\r\n`,
              }),
            });
          }
          const c = await counts();
          return { ok: c.held === BACKLOG, detail: `held ${c.held}, delivered ${c.delivered}` };
        },
      );

      await context.step(
        'scheduled run: backlog reported to Slack, nothing sent to the primary',
        async () => {
          l.clock.advance(60_000);
          await invokeSchedule({}, drillLambdaContext);
          const c = await counts();
          return {
            ok: c.held === BACKLOG && p.accepted.length === 0,
            detail: `held ${c.held}; primary received ${p.accepted.length}`,
          };
        },
      );

      await context.step('primary returns; alarm OK: hand-back starts (first batch)', async () => {
        await p.setMode('accept');
        l.clock.advance(60_000);
        const [outcome] = await alarm('OK', 'Threshold Crossed: SMTP check passing');
        const c = await counts();
        return {
          ok: outcome?.kind === 'transitioned' && c.delivered > 0,
          detail: `${outcome?.kind}; held ${c.held}, delivered ${c.delivered}`,
        };
      });

      await context.step('scheduled runs drain the backlog, oldest first', async () => {
        const timeline: string[] = [];
        for (let run = 0; run < 10 && (await counts()).held > 0; run++) {
          l.clock.advance(60_000);
          await invokeSchedule({}, drillLambdaContext);
          const c = await counts();
          timeline.push(`${c.held}/${c.delivered}`);
        }
        const c = await counts();
        const subjects = p.accepted.map((m) => /Subject: Order (\d+)/.exec(m.raw.toString('utf8'))?.[1]);
        const inOrder = subjects.every((s, i) => s === String(i));
        return {
          ok: c.held === 0 && c.delivered === BACKLOG && p.accepted.length === BACKLOG && inOrder,
          detail: `held/delivered per run: ${timeline.join(' → ')}; primary received ${p.accepted.length}, in order: ${inOrder}`,
        };
      });

      await context.step('idle scheduled run: nothing more to hand back', async () => {
        l.clock.advance(60_000);
        await invokeSchedule({}, drillLambdaContext);
        return {
          ok: p.accepted.length === BACKLOG,
          detail: `primary received ${p.accepted.length} (no duplicate)`,
        };
      });
      context.slack(l.sink);
    } finally {
      await local?.stop();
      await primary?.stop();
    }
  },
};
