/**
 * Envelope addresses as they go into `MAIL FROM:<...>` and `RCPT TO:<...>` on the hand-back. They
 * come from the SES receipt event; one with a line break or an angle bracket written onto the wire
 * would inject a command (an extra recipient, a second transaction). Pure; used where an address is
 * recorded (ses-event.ts) and again right before it is written (smtp.ts).
 */

/** RFC 5321 4.5.3.1.3: a path is at most 256 octets, angle brackets included. */
const MAX_OCTETS = 254;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** A domain (or address literal) as SMTP accepts it after the last @: no spaces, brackets or routes. */
const DOMAIN = /^(?:\[[^[\]\\\s]+\]|[^\s()<>[\],;:\\"@]+)$/;

/**
 * Why `address` must not be written as an SMTP envelope address, or undefined when it may be.
 * The empty string is the null reverse-path (a bounce's MAIL FROM:<>), allowed only where
 * `allowNull` says so. Never echoes the address: the reason is logged and stored.
 */
export const envelopeAddressProblem = (
  address: unknown,
  options: { readonly allowNull?: boolean } = {},
): string | undefined => {
  if (typeof address !== 'string') return 'is not text';
  if (address === '') return options.allowNull ? undefined : 'is empty';
  if (CONTROL.test(address)) return 'contains a control character or line break';
  if (address.includes('<') || address.includes('>')) return 'contains an angle bracket';
  if (/\s/.test(address)) return 'contains white space';
  if (Buffer.byteLength(address, 'utf8') > MAX_OCTETS) return `is longer than ${MAX_OCTETS} bytes`;
  const at = address.lastIndexOf('@');
  if (at <= 0) return 'has no local part and domain (local@domain)';
  if (!DOMAIN.test(address.slice(at + 1))) return 'has no valid domain after the @';
  return undefined;
};
