/*
 * Chronicle Queue (Debian's libopenhft-chronicle-queue-java, Chronicle 3.6
 * IndexedChronicle) in the side-by-side benchmark (bench/peers): the same
 * operations and JSON lines as every other system (bench/peers/protocol.ts).
 * Compiled and run by bench/peers/run.ts.
 *
 * Appends write each record as one excerpt (appender per record, the
 * queue's idiomatic path); excerpts are visible to tailers in other
 * processes once finished. Time-range queries use Chronicle's own binary
 * search over excerpts (Excerpt.findRange with a timestamp comparator),
 * settled across the padding excerpts Chronicle inserts at data-block
 * boundaries (see settle()).
 * Durability: memory-mapped files, page cache (no fsync), like Deepwater's
 * default. Latencies use System.nanoTime(), which is CLOCK_MONOTONIC on
 * Linux, the clock every other harness uses.
 */
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import net.openhft.chronicle.Chronicle;
import net.openhft.chronicle.ChronicleQueueBuilder;
import net.openhft.chronicle.Excerpt;
import net.openhft.chronicle.ExcerptAppender;
import net.openhft.chronicle.ExcerptTailer;

public final class ChroniclePeer {
    static final long T0 = 1769860800000000L;
    final int size, tsOff, qtyOff;
    final boolean qtyF32;

    ChroniclePeer(String record) {
        if (record.equals("trade")) { size = 24; tsOff = 16; qtyOff = 8; qtyF32 = false; }
        else if (record.equals("quote")) { size = 32; tsOff = 24; qtyOff = 16; qtyF32 = true; }
        else throw new IllegalArgumentException("record must be trade or quote");
    }

    static Chronicle open(String dir) throws IOException {
        new File(dir).mkdirs();
        return ChronicleQueueBuilder.indexed(dir + "/queue").build();
    }

    static long du(File f) {
        if (f.isDirectory()) {
            long t = 0;
            File[] list = f.listFiles();
            if (list != null) for (File c : list) t += du(c);
            return t;
        }
        try {
            Object blocks = Files.getAttribute(f.toPath(), "unix:blocks");
            return ((Number) blocks).longValue() * 512L;
        } catch (Exception e) {
            return f.length();
        }
    }

    void append(long n, String dataset, String dir) throws IOException {
        byte[] data = Files.readAllBytes(Path.of(dataset));
        long t0 = System.nanoTime();
        Chronicle q = open(dir);
        ExcerptAppender ap = q.createAppender();
        for (long i = 0; i < n; i++) {
            ap.startExcerpt(size);
            ap.write(data, (int) (i * size), size);
            ap.finish();
        }
        q.close();
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "{\"ok\":true,\"records\":%d,\"seconds\":%.9f,\"bytes\":%d}%n", n, secs,
            du(new File(dir)));
    }

    static long[] readU64(String path) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(path, "r"); FileChannel ch = f.getChannel()) {
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
            long[] v = new long[(int) (ch.size() / 8)];
            for (int i = 0; i < v.length; i++) v[i] = b.getLong(i * 8);
            return v;
        }
    }

    /** Timestamp of excerpt j, or -1 when j is a padding excerpt. */
    long tsAt(Excerpt ex, long j) {
        if (!ex.index(j)) return -1;
        long ts = ex.readLong(tsOff);
        ex.finish();
        return ts;
    }

    /**
     * The first record excerpt with ts >= t, starting from findRange's answer.
     * Chronicle inserts a padding excerpt at each data-block boundary, and
     * findRange's comparator reads it as a record, so its answer can land on
     * the padding or next to it: settle it across padding in both directions.
     */
    long settle(Excerpt ex, long j, long last, long t) {
        while (j <= last) {
            long ts = tsAt(ex, j);
            if (ts >= t) break;
            j++;
        }
        for (long k = j - 1; k >= 0; k--) {
            long ts = tsAt(ex, k);
            if (ts == -1) continue;
            if (ts < t) break;
            j = k;
        }
        return j;
    }

    void query(long n, String dir, String seeksPath, String windowsPath, double maxSeconds) throws IOException {
        long[] seeks = readU64(seeksPath), win = readU64(windowsPath);
        Chronicle q = open(dir);
        Excerpt ex = q.createExcerpt();
        long last = q.lastWrittenIndex();
        long[] range = new long[2];
        long seekCheck = 0;
        int k = 0;
        long t0 = System.nanoTime();
        for (; k < seeks.length; k++) {
            final long t = seeks[k];
            ex.findRange(range, e -> e.readLong(tsOff) < t ? -1 : 0);
            long j = settle(ex, Math.max(0, range[0]), last, t);
            if (j <= last) seekCheck += tsAt(ex, j) - T0;
            if ((k & 1023) == 1023 && (System.nanoTime() - t0) / 1e9 > maxSeconds) { k++; break; }
        }
        double seekSecs = (System.nanoTime() - t0) / 1e9;
        double windowCheck = 0;
        int w = 0;
        long t1 = System.nanoTime();
        for (; w < win.length / 2; w++) {
            final long a = win[2 * w], b = win[2 * w + 1];
            ex.findRange(range, e -> e.readLong(tsOff) < a ? -1 : 0);
            for (long j = settle(ex, Math.max(0, range[0]), last, a); j <= last; j++) {
                if (!ex.index(j)) continue; // padding
                if (ex.readLong(tsOff) > b) {
                    ex.finish();
                    break;
                }
                windowCheck += qtyF32 ? ex.readFloat(qtyOff) : ex.readDouble(qtyOff);
                ex.finish();
            }
            if ((System.nanoTime() - t1) / 1e9 > maxSeconds) { w++; break; }
        }
        double windowSecs = (System.nanoTime() - t1) / 1e9;
        q.close();
        System.out.printf(Locale.ROOT,
            "{\"ok\":true,\"seeks\":%d,\"seekSeconds\":%.9f,\"seekCheck\":%d,\"windows\":%d,\"windowSeconds\":%.9f,\"windowCheck\":%.17g}%n",
            k, seekSecs, seekCheck, w, windowSecs, windowCheck);
    }

    void latencyReader(String dir, int messages, int warm) throws IOException {
        Chronicle q = open(dir);
        ExcerptTailer tl = q.createTailer();
        long[] lat = new long[messages - warm];
        int seen = 0;
        System.out.println("ready");
        System.out.flush();
        while (seen < messages) {
            if (!tl.nextIndex()) continue;
            long d = System.nanoTime() - (long) tl.readDouble(0);
            tl.finish();
            if (seen >= warm) lat[seen - warm] = d;
            seen++;
        }
        q.close();
        Arrays.sort(lat);
        int n = lat.length;
        System.out.printf(Locale.ROOT, "{\"ok\":true,\"messages\":%d,\"p50\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d}%n", n,
            lat[n / 2], lat[(int) (n * 0.99)], lat[(int) (n * 0.999)], lat[n - 1]);
    }

    void latencyWriter(String dir, int messages, double rate) throws IOException, InterruptedException {
        Chronicle q = open(dir);
        ExcerptAppender ap = q.createAppender();
        Thread.sleep(500); // settle, as every system's writer does (SETTLE_MS)
        double gap = 1e9 / rate;
        long start = System.nanoTime();
        for (int i = 0; i < messages; i++) {
            long due = start + (long) (i * gap);
            while (System.nanoTime() < due) Thread.onSpinWait();
            ap.startExcerpt(size);
            ap.writeDouble(0, (double) System.nanoTime());
            ap.writeLong(tsOff, i);
            ap.position(size);
            ap.finish();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        q.close();
        System.out.printf(Locale.ROOT, "{\"ok\":true,\"messages\":%d,\"seconds\":%.9f}%n", messages, secs);
    }

    public static void main(String[] args) {
        try {
            ChroniclePeer p = new ChroniclePeer(args[1]);
            switch (args[0]) {
                case "append" -> p.append(Long.parseLong(args[2]), args[3], args[4]);
                case "query" -> p.query(Long.parseLong(args[2]), args[3], args[4], args[5], Double.parseDouble(args[6]));
                case "latency-init" -> { open(args[2]).close(); System.out.println("{\"ok\":true}"); }
                case "latency-reader" -> p.latencyReader(args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]));
                case "latency-writer" -> p.latencyWriter(args[2], Integer.parseInt(args[3]), Double.parseDouble(args[4]));
                default -> throw new IllegalArgumentException("unknown operation " + args[0]);
            }
        } catch (Exception e) {
            String why = String.valueOf(e.getMessage()).replace("\"", "'");
            System.out.println("{\"ok\":false,\"reason\":\"" + e.getClass().getSimpleName() + ": " + why + "\"}");
        }
        System.exit(0);
    }
}
