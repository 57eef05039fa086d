/**
 * How many tokens of each text survive truncation, as Hugging Face tokenizers cut them
 * (tokenizers/src/utils/truncation.rs, truncate_encodings, strategy LongestFirst, direction Right):
 * `budget` is the model's max length less the special tokens the post-processor adds.
 */
export function truncatedLengths(n1: number, n2: number | undefined, budget: number): [number, number] {
  if (n2 === undefined) return [Math.min(n1, budget), 0];
  if (n1 + n2 <= budget) return [n1, n2];
  // With a the shorter and b the longer: keep a whole if b can still have at least as much, else
  // split the budget in half, the longer one taking the odd token.
  const swap = n1 > n2;
  let a = swap ? n2 : n1;
  let b = a > budget ? a : Math.max(a, budget - a);
  if (a + b > budget) {
    a = Math.floor(budget / 2);
    b = a + (budget % 2);
  }
  return swap ? [b, a] : [a, b];
}
