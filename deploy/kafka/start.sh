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
#
# A secured broker (tests of SASL/SSL clients) adds listeners beside the plaintext one:
#   KAFKA_SSL_KEYSTORE   PEM file: the broker's private key (unencrypted PKCS#8) then its certificate
#   KAFKA_SSL_CA         PEM file of the CA that signs client certificates (for the mTLS listener)
#   KAFKA_SASL_SSL_PORT  a SASL_SSL listener (SCRAM-SHA-256 and SCRAM-SHA-512)
#   KAFKA_SSL_PORT       an SSL listener that requires a client certificate signed by KAFKA_SSL_CA
#   KAFKA_SCRAM_USERS    "name=password,..." SCRAM users created when the log directory is formatted
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
extra_listeners=""
[ -n "${KAFKA_SASL_SSL_PORT:-}" ] && extra_listeners="$extra_listeners,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT"
[ -n "${KAFKA_SSL_PORT:-}" ] && extra_listeners="$extra_listeners,SSL://127.0.0.1:$KAFKA_SSL_PORT"
if [ -n "$extra_listeners" ] && [ ! -f "${KAFKA_SSL_KEYSTORE:-}" ]; then
  say "a SASL_SSL or SSL listener needs KAFKA_SSL_KEYSTORE (a PEM file: key, then certificate)"
  exit 1
fi
cat > "$run_dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port$extra_listeners
advertised.listeners=PLAINTEXT://127.0.0.1:$port$extra_listeners
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
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
if [ -n "$extra_listeners" ]; then
  cat >> "$run_dir/server.properties" <<PROPS
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SSL_KEYSTORE
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
  if [ -n "${KAFKA_SSL_PORT:-}" ]; then
    [ -f "${KAFKA_SSL_CA:-}" ] || { say "the SSL listener needs KAFKA_SSL_CA (a PEM file)"; exit 1; }
    cat >> "$run_dir/server.properties" <<PROPS
listener.name.ssl.ssl.client.auth=required
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$KAFKA_SSL_CA
PROPS
  fi
fi
scram_args=()
IFS=',' read -r -a scram_users <<< "${KAFKA_SCRAM_USERS:-}"
for user in "${scram_users[@]}"; do
  [ -z "$user" ] && continue
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    scram_args+=(--add-scram "$mechanism=[name=${user%%=*},password=${user#*=}]")
  done
done

classpath="$lib/*"
java_opts=(-Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true
  -Dkafka.logs.dir="$run_dir/logs" -Dlog4j.configuration="file:$here/log4j.properties")
if [ ! -f "$run_dir/data/meta.properties" ]; then
  cluster_id="$(java -cp "$classpath" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  java "${java_opts[@]}" -cp "$classpath" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$run_dir/server.properties" "${scram_args[@]}" > "$run_dir/logs/format.log" 2>&1 \
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
