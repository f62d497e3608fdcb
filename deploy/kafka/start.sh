#!/usr/bin/env bash
# Start a single-node Apache Kafka broker (KRaft, broker+controller) on 127.0.0.1 from jars that
# Maven resolves into target/lib, and wait until it answers. For development and CI only.
#
#   deploy/kafka/start.sh              # port 9092, data in deploy/kafka/target/run-9092
#   KAFKA_PORT=19092 deploy/kafka/start.sh
#   deploy/kafka/stop.sh               # stop it again (same KAFKA_PORT)
#   deploy/kafka/start.sh --resolve-only   # only fetch the jars (CI does this as an install step)
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_RUN_DIR
# (target/run-$KAFKA_PORT: data, logs, pid), KAFKA_HEAP (512m), KAFKA_START_TIMEOUT (90 s),
# KAFKA_FRESH=1 wipes earlier data first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
run_dir="${KAFKA_RUN_DIR:-$here/target/run-$port}"
heap="${KAFKA_HEAP:-512m}"
timeout="${KAFKA_START_TIMEOUT:-90}"
lib="$here/target/lib"

say() { echo "kafka: $*" >&2; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

command -v java >/dev/null || { say "java not found (Java 17 is needed)"; exit 1; }
if [ ! -f "$lib/.resolved" ]; then
  command -v mvn >/dev/null || { say "mvn not found (Maven resolves the Kafka jars)"; exit 1; }
  say "resolving Apache Kafka jars with Maven into $lib"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >&2
  touch "$lib/.resolved"
fi

if [ "${1:-}" = "--resolve-only" ]; then
  say "jars ready in $lib ($(ls "$lib" | grep -c '\.jar$') jars)"
  exit 0
fi

if [ -f "$run_dir/pid" ] && kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; then
  say "already running (pid $(cat "$run_dir/pid")) on 127.0.0.1:$port"
  exit 0
fi
if answers; then
  say "port $port is taken by another process; set KAFKA_PORT"
  exit 1
fi

[ "${KAFKA_FRESH:-0}" = 1 ] && rm -rf "$run_dir"
mkdir -p "$run_dir/data" "$run_dir/logs"
cat > "$run_dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$run_dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS

classpath="$lib/*"
java_opts=(-Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true
  -Dkafka.logs.dir="$run_dir/logs" -Dlog4j.configuration="file:$here/log4j.properties")
if [ ! -f "$run_dir/data/meta.properties" ]; then
  cluster_id="$(java -cp "$classpath" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  java "${java_opts[@]}" -cp "$classpath" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$run_dir/server.properties" > "$run_dir/logs/format.log" 2>&1 \
    || { say "formatting the log directory failed:"; cat "$run_dir/logs/format.log" >&2; exit 1; }
fi

nohup java "${java_opts[@]}" -cp "$classpath" kafka.Kafka "$run_dir/server.properties" \
  > "$run_dir/logs/stdout.log" 2>&1 &
echo $! > "$run_dir/pid"
say "starting (pid $!), logs in $run_dir/logs"

for _ in $(seq 1 $((timeout * 4))); do
  if ! kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; then
    say "the broker exited while starting; last log lines:"
    tail -n 30 "$run_dir/logs/stdout.log" "$run_dir/logs/server.log" >&2 2>/dev/null || true
    exit 1
  fi
  if answers && grep -q "Kafka Server started" "$run_dir/logs/server.log" 2>/dev/null; then
    say "ready on 127.0.0.1:$port"
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 0.25
done
say "not ready after ${timeout}s; see $run_dir/logs"
exit 1
