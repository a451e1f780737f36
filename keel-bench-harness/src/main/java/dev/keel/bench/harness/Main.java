package dev.keel.bench.harness;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One benchmark process: starts one system's cluster and runs one or more load settings against it,
 * printing a {@code RESULT} line for each. The comparison forks one of these per system and
 * configuration, so every system runs in a fresh JVM on its own classpath.
 *
 * <pre>
 * java -cp ADAPTER_JAR dev.keel.bench.harness.Main --system CLASS --dir D [--nodes 3] [--bytes 1024]
 *      [--load closed-1,closed-16,open-5000] [--warmup 3] [--seconds 10] [--base-port 20000]
 *      [--election-ms 1000-2000] [--memory]
 * </pre>
 */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        String system = null;
        Path dir = null;
        int nodes = 3;
        int bytes = 1024;
        List<String> loads = List.of("closed-256");
        double warmup = 3;
        double seconds = 10;
        int basePort = 20_000;
        int eMin = 1000;
        int eMax = 2000;
        boolean durable = true;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--system" -> system = args[++i];
                case "--dir" -> dir = Path.of(args[++i]);
                case "--nodes" -> nodes = Integer.parseInt(args[++i]);
                case "--bytes" -> bytes = Integer.parseInt(args[++i]);
                case "--load" -> loads = List.of(args[++i].split(","));
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--base-port" -> basePort = Integer.parseInt(args[++i]);
                case "--election-ms" -> {
                    String[] p = args[++i].split("-");
                    eMin = Integer.parseInt(p[0]);
                    eMax = Integer.parseInt(p[1]);
                }
                case "--memory" -> durable = false;
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (system == null || dir == null) throw new IllegalArgumentException("--system and --dir are required");
        Files.createDirectories(dir);
        RaftSystem s = (RaftSystem) Class.forName(system).getConstructor().newInstance();
        Setup setup = new Setup(nodes, dir, basePort, eMin, eMax, durable);
        List<Result> results = new ArrayList<>();
        try {
            s.start(setup);
            System.out.println("DESCRIBE " + s.name() + ": " + s.describe());
            LoadDriver driver = new LoadDriver(s, bytes);
            for (String load : loads) {
                Result r;
                if (load.startsWith("closed-")) r = driver.closedLoop(Integer.parseInt(load.substring(7)), warmup, seconds);
                else if (load.startsWith("open-")) r = driver.openLoop(Long.parseLong(load.substring(5)), warmup, seconds);
                else throw new IllegalArgumentException("load must be closed-N or open-R, not " + load);
                results.add(r);
                System.out.println(r.line());
                System.out.flush();
            }
        } finally {
            s.close();
        }
        // Some systems leave non-daemon threads behind; the process is done.
        System.exit(0);
    }
}
