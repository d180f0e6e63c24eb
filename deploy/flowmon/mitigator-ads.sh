#!/bin/bash
# Flowmon ADS / IDS custom script: hands the events on standard input to `mitigator append`.
#
# Upload this file in ADS (Settings > System Settings > Custom scripts) and bind it to a
# perspective with a custom script action. ADS passes the script's parameters as name/value
# pairs (`NAME_1 'VALUE_1' NAME_2 'VALUE_2' ...`); the names below are accepted with or without
# leading dashes, and a flag such as `defer` still takes a value (`defer 1`).
#
#   config         the configuration file (default $MITIGATOR_HOME/mitigator.yaml)
#   db             the event log (default: the config's `database`)
#   instance       this appliance's name in dedupe keys (default: the config's, else the host name)
#   timezone       the zone of Flowmon's timestamps (default: the config's, else UTC)
#   format         auto | tsv | json | cef (default auto)
#   defer          1: only record and decide; reconcile applies the blocks
#   apply-timeout  how long applying at once may take (default 10s)
#   log-file       default /data/components/apps/log/mitigator.log when that folder is writable
#   log-format     logfmt (default in the file) | json | text
#   log-level      warning: leave out the info lines (default info)
#
# Secrets are never parameters (ADS shows them and they would appear in process lists): the
# config names the key and token files.
#
# Nothing is lost: the events are first written to $MITIGATOR_HOME/spool; when mitigator could
# not record them, the file stays there as failed-*.events and `mitigator append < file` records
# it later (dedupe keys make a second delivery harmless).
set -u
umask 077

MITIGATOR_HOME=${MITIGATOR_HOME:-/home/flowmon/mitigator}
LOG_DIR=/data/components/apps/log
if [ -d "$LOG_DIR" ] && [ -w "$LOG_DIR" ]; then log_file="$LOG_DIR/mitigator.log"; else log_file="$MITIGATOR_HOME/mitigator.log"; fi

config="$MITIGATOR_HOME/mitigator.yaml"
args=()
before=() # options of the program itself, which come before the subcommand
warnings=()
while [ $# -gt 0 ]; do
  name=${1#-}
  name=${name#-}
  if [ $# -lt 2 ]; then
    warnings+=("parameter '$name' has no value: ignored")
    break
  fi
  value=$2
  shift 2
  case "$name" in
    config) config=$value ;;
    log-file) log_file=$value ;;
    db | instance | timezone | format | apply-timeout | log-format) args+=("--$name" "$value") ;;
    log-level) before+=(--log-level "$value") ;;
    defer) case "$value" in 0 | false | no | off) ;; *) args+=(--defer) ;; esac ;;
    api-key | apikey | key | token | password | cs-token)
      warnings+=("parameter '$name' refused: secrets do not belong in script parameters; the config names the key and token files") ;;
    *) warnings+=("unknown parameter '$name': ignored (known: config, db, instance, timezone, format, defer, apply-timeout, log-file, log-format, log-level)") ;;
  esac
done

log() { # level message: one logfmt line in the log file
  local text=${2//\\/\\\\}
  printf 'time=%s level=%s msg="%s" source=mitigator-ads.sh\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$1" "${text//\"/\\\"}" >>"$log_file" 2>/dev/null
}
for w in "${warnings[@]+"${warnings[@]}"}"; do log warn "$w"; done

spool="$MITIGATOR_HOME/spool"
mkdir -p "$spool" 2>/dev/null
if ! incoming=$(mktemp "$spool/incoming.XXXXXX" 2>/dev/null); then
  # No spool: still try to record the events straight from standard input.
  log warn "cannot write to $spool: events are not kept if mitigator fails"
  exec "$MITIGATOR_HOME/bin/mitigator" "${before[@]+"${before[@]}"}" append --config "$config" --log-file "$log_file" "${args[@]+"${args[@]}"}" 2>>"$log_file"
fi
cat >"$incoming"

# mitigator writes its own lines to the log file; its standard error only matters when it failed.
errors="$incoming.stderr"
"$MITIGATOR_HOME/bin/mitigator" "${before[@]+"${before[@]}"}" append --config "$config" --log-file "$log_file" "${args[@]+"${args[@]}"}" <"$incoming" >/dev/null 2>"$errors"
code=$?
# 0: recorded; 3: recorded, some lines rejected (and recorded as such).
if [ "$code" -eq 0 ] || [ "$code" -eq 3 ]; then
  rm -f "$incoming"
else
  kept="$spool/failed-$(date -u +%Y%m%dT%H%M%SZ)-$$.events"
  mv "$incoming" "$kept"
  why=$(tail -c 2000 "$errors" 2>/dev/null | tr '\n' ' ')
  log error "mitigator append failed (exit $code): ${why:-no message}; the events are kept in $kept; record them with: mitigator append --config $config < $kept"
fi
rm -f "$errors"
exit "$code"
