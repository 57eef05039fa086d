/** Commander parsers for the numeric options the commands share. */
import { InvalidArgumentError } from 'commander';

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

export function parsePositiveNumber(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x <= 0) throw new InvalidArgumentError('expected a positive number');
  return x;
}

export function parseFraction(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0 || x >= 1) throw new InvalidArgumentError('expected a fraction in [0, 1)');
  return x;
}

export function parseSeed(value: string): number {
  const x = Number(value);
  if (!Number.isInteger(x) || x < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return x;
}
