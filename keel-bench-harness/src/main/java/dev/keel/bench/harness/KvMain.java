package dev.keel.bench.harness;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One KV benchmark process: starts one KV system's servers and runs put and get loads with several
 * client counts, printing a {@code RESULT} line for each (the heap field holds the servers' peak
 * resident memory per node).
 *
 * <pre>
 * java -cp JAR dev.keel.bench.harness.KvMain --system CLASS --dir D [--nodes 3] [--bytes 256] [--keys 1000]
 *      [--load put-1,put-16,put-64,get-1,get-16,get-64] [--warmup 3] [--seconds 10] [--base-port 30000]
 * </pre>
 */
public final class KvMain {

    private KvMain() {
    }

    public static void main(String[] args) throws Exception {
        String system = null;
        Path dir = null;
        int nodes = 3;
        int bytes = 256;
        int keys = 1000;
        List<String> loads = List.of("put-1", "put-16", "put-64", "get-1", "get-16", "get-64");
        double warmup = 3;
        double seconds = 10;
        int basePort = 30_000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--system" -> system = args[++i];
                case "--dir" -> dir = Path.of(args[++i]);
                case "--nodes" -> nodes = Integer.parseInt(args[++i]);
                case "--bytes" -> bytes = Integer.parseInt(args[++i]);
                case "--keys" -> keys = Integer.parseInt(args[++i]);
                case "--load" -> loads = List.of(args[++i].split(","));
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--base-port" -> basePort = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (system == null || dir == null) throw new IllegalArgumentException("--system and --dir are required");
        Files.createDirectories(dir);
        KvSystem s = (KvSystem) Class.forName(system).getConstructor().newInstance();
        try {
            s.start(nodes, dir, basePort);
            System.out.println("DESCRIBE " + s.name() + ": " + s.describe());
            KvDriver driver = new KvDriver(s, keys, bytes);
            driver.preload();
            for (String load : loads) {
                String[] p = load.split("-");
                Result r = driver.run(p[0], Integer.parseInt(p[1]), warmup, seconds);
                System.out.println(r.line());
                System.out.flush();
            }
        } finally {
            s.close();
        }
        System.exit(0);
    }
}
