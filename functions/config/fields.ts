import * as z from 'zod';

/** Field validators every section of the config shares, so each says the same thing the same way. */

export const awsAccount = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
export const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS Region such as eu-west-1');
/** A service name: it becomes part of AWS resource names, so the length is a limit of its own. */
export const resourceName = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z][a-z0-9-]*$/, 'must be lowercase letters, digits and dashes, starting with a letter');
export const hostedZoneId = z
  .string()
  .regex(/^(\/hostedzone\/)?[A-Z0-9]{1,32}$/, 'must be a Route 53 hosted zone id such as Z0123456789ABC')
  .transform((id) => id.replace(/^\/hostedzone\//, ''));
export const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(\*\.)?([a-zA-Z0-9_-]{1,63}\.)*[a-zA-Z0-9_-]{1,63}\.?$/,
    'must be a DNS name such as app.example.com',
  )
  .transform((name) => (name.endsWith('.') ? name : `${name}.`).toLowerCase());
