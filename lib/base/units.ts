/**
 * Sizes and durations for people: what the tools print in their reports
 * (machines read the exact numbers from `--json`).
 *
 * @module
 */

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/**
 * A byte count in binary units: `"0 B"`, `"512 B"`, `"12.4 MiB"`.
 *
 * @param bytes a non-negative byte count
 * @returns whole bytes below 1 KiB, else one decimal in the largest unit that keeps it at least 1
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 0;
  for (value /= 1024; value >= 1024 && unit < BYTE_UNITS.length - 1; value /= 1024) unit++;
  return `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/**
 * A duration in its two largest units: `"0.4 s"`, `"42 s"`, `"3 min 5 s"`,
 * `"15 h 53 min"`, `"2 d 4 h"`.
 *
 * @param seconds a non-negative duration
 * @returns the duration in words
 */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
