/**
 * UTF-8 text cut to a byte limit without splitting a character: a cut inside a multi-byte sequence
 * would leave the receiver an invalid sequence (shown as U+FFFD) at the end of every long message.
 */

/** The longest prefix of `text`, encoded as UTF-8, that fits in `maxBytes` and ends on a character boundary. */
export function utf8Prefix(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Continuation bytes are 10xxxxxx: step back to the lead byte of the character that was cut.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
