# Sourced (POSIX sh) by bin/keel, ./mvnw and .ci/run: picks a JDK >= 21 and exports JAVA_HOME.
# Order: $JAVA_HOME if it is >= 21, then `java` on PATH, then the JDKs under /usr/lib/jvm
# (newest first). Fails with a clear message when none is found.
keel_java_major() {
  # Prints the feature version of the java binary $1 (e.g. 17, 21, 25), or nothing.
  "$1" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}
keel_find_jdk() {
  keel_min=21
  if [ -n "${JAVA_HOME-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    v=$(keel_java_major "$JAVA_HOME/bin/java")
    if [ -n "$v" ] && [ "$v" -ge "$keel_min" ]; then return 0; fi
  fi
  if command -v javac >/dev/null 2>&1; then
    j=$(readlink -f "$(command -v javac)")
    h=$(dirname "$(dirname "$j")")
    v=$(keel_java_major "$h/bin/java")
    if [ -n "$v" ] && [ "$v" -ge "$keel_min" ]; then JAVA_HOME=$h; export JAVA_HOME; return 0; fi
  fi
  # find, not a glob: callers such as mvnw run with globbing off (set -f).
  for h in $(find /usr/lib/jvm /opt -mindepth 1 -maxdepth 2 -type d -name '*jdk*' 2>/dev/null | sort -r); do
    [ -x "$h/bin/javac" ] || continue
    v=$(keel_java_major "$h/bin/java")
    if [ -n "$v" ] && [ "$v" -ge "$keel_min" ]; then JAVA_HOME=$h; export JAVA_HOME; return 0; fi
  done
  echo "keel: no JDK >= $keel_min found (JAVA_HOME='${JAVA_HOME-}', checked PATH and /usr/lib/jvm)." >&2
  echo "keel: install one (for example: apt-get install openjdk-21-jdk-headless) or set JAVA_HOME to it." >&2
  return 1
}
