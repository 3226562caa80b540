/**
 * Open a writer or reader of either storage kind: the one place that picks
 * the chunk-file or ring implementation of the feed contract for a feed.
 *
 * @module
 */
import { ChunkReader } from "../chunks/reader.ts";
import { ChunkWriter } from "../chunks/writer.ts";
import type { FeedContext } from "../directory/feed.ts";
import type { FeedReader, FeedWriter, ReaderOptions, WriterOptions } from "../feed/contract.ts";
import { RingReader } from "../ring/reader.ts";
import { RingWriter } from "../ring/writer.ts";

/**
 * Open the writer of a feed, of the kind its spec says.
 *
 * @param ctx the feed
 * @param options the caller's writer options (checked by the writer)
 * @param onClose called once when the writer closes
 * @returns the writer
 */
export function openWriter(
  ctx: FeedContext,
  options: WriterOptions,
  onClose: (w: FeedWriter) => void,
): FeedWriter {
  return ctx.spec.persist
    ? new ChunkWriter(ctx, options, onClose)
    : new RingWriter(ctx, options, onClose);
}

/**
 * Open a reader of a feed, of the kind its spec says.
 *
 * @param ctx the feed
 * @param options the caller's reader options (checked by the reader)
 * @param onClose called once when the reader closes (default: nothing)
 * @returns the reader
 */
export function openReader(
  ctx: FeedContext,
  options: ReaderOptions = {},
  onClose: (r: FeedReader) => void = () => {},
): FeedReader {
  return ctx.spec.persist
    ? new ChunkReader(ctx, options, onClose)
    : new RingReader(ctx, options, onClose);
}
