#!/bin/sh
# Flowmon ADS / IDS custom script: forwards the events on standard input to `mitigator serve`
# (POST $MITIGATOR_URL/v1/events). Needs only a POSIX sh and curl: no Node on the appliance.
#
# Settings, from the environment or as ADS parameters (name/value pairs, `NAME 'VALUE' ...`,
# names with or without leading dashes; a parameter wins over the environment):
#
#   MITIGATOR_URL              url              https://mitigator.example:8787 (plain http only to
#                                               127.0.0.1, localhost or [::1]: the token is never
#                                               sent in clear over a network)
#   MITIGATOR_TOKEN_FILE       token-file       the bearer token, a private file (chmod 600)
#   MITIGATOR_SPOOL            spool            where undelivered events wait
#                                               (default $MITIGATOR_HOME/forward-spool)
#   MITIGATOR_CA               ca               CA certificate(s) for the server (curl --cacert)
#   MITIGATOR_PIN              pin              sha256//BASE64 of the server's public key
#                                               (curl --pinnedpubkey)
#   MITIGATOR_LOG_FILE         log-file         logfmt lines (default
#                                               /data/components/apps/log/mitigator.log when
#                                               that folder is writable)
#   MITIGATOR_TIMEOUT          timeout          seconds one request may take (default 10)
#   MITIGATOR_CONNECT_TIMEOUT  connect-timeout  seconds to connect (default 3)
#   MITIGATOR_FLUSH_BUDGET     flush-budget     seconds spent sending the spool per run (default 20)
#   MITIGATOR_LOCK_WAIT        lock-wait        seconds to wait for another run's flush (default 15)
#   MITIGATOR_INSTANCE         instance         this appliance's name in the log (default: the host
#                                               name): ADS numbers its events per appliance, so
#                                               appliances that post to one serve must differ here
#
# What it does: the new lines are first written to a hidden file in the spool. Then, holding
# the spool lock, it sends the spooled files oldest first (one POST each) and then the new
# lines (one POST). A file is deleted only after a 200. On any failure (no connection, a
# timeout, an answer other than 200) the new lines become a spool file (atomic rename) and the
# script exits 0: ADS is never held up, and the next run (or `mitigator-forward.sh </dev/null`
# from cron) delivers them. An answer of 400 or 413 can never succeed for that file: it is moved
# to $MITIGATOR_SPOOL/refused/ (kept, logged) so that it does not hold up the rest.
#
# Exit codes: 0 = delivered or kept in the spool; 1 = the new lines could neither be delivered
# nor kept (they are then written to standard error and syslog, line by line, so that they are
# not lost silently).
#
# The token is read by the shell and handed to curl on a pipe (`curl --config -`): it is never
# in an argument list (ps), an environment, a log line or a file other than the token file.
set -u
umask 077
LC_ALL=C
export LC_ALL

# ---------------------------------------------------------------------------------------------
# Settings

url=${MITIGATOR_URL:-}
token_file=${MITIGATOR_TOKEN_FILE:-}
spool=${MITIGATOR_SPOOL:-${MITIGATOR_HOME:-/home/flowmon/mitigator}/forward-spool}
ca=${MITIGATOR_CA:-}
pin=${MITIGATOR_PIN:-}
timeout=${MITIGATOR_TIMEOUT:-10}
connect_timeout=${MITIGATOR_CONNECT_TIMEOUT:-3}
flush_budget=${MITIGATOR_FLUSH_BUDGET:-20}
lock_wait=${MITIGATOR_LOCK_WAIT:-15}
instance=${MITIGATOR_INSTANCE:-$(hostname 2>/dev/null || uname -n)}
if [ -n "${MITIGATOR_LOG_FILE:-}" ]; then
  log_file=$MITIGATOR_LOG_FILE
elif [ -d /data/components/apps/log ] && [ -w /data/components/apps/log ]; then
  log_file=/data/components/apps/log/mitigator.log
else
  log_file=
fi

warnings=
while [ $# -gt 0 ]; do
  name=${1#-}
  name=${name#-}
  if [ $# -lt 2 ]; then
    warnings="${warnings}parameter '$name' has no value: ignored
"
    break
  fi
  value=$2
  shift 2
  case $name in
    url) url=$value ;;
    token-file) token_file=$value ;;
    spool) spool=$value ;;
    ca) ca=$value ;;
    pin) pin=$value ;;
    log-file) log_file=$value ;;
    timeout) timeout=$value ;;
    connect-timeout) connect_timeout=$value ;;
    flush-budget) flush_budget=$value ;;
    lock-wait) lock_wait=$value ;;
    instance) instance=$value ;;
    token | api-key | apikey | key | password)
      warnings="${warnings}parameter '$name' refused: secrets do not belong in script parameters (ADS shows them, ps lists them); use token-file
" ;;
    *) warnings="${warnings}unknown parameter '$name': ignored (known: url, token-file, spool, ca, pin, log-file, timeout, connect-timeout, flush-budget, lock-wait, instance)
" ;;
  esac
done

# ---------------------------------------------------------------------------------------------
# Logging: every line to the log file (when there is one); warnings and errors also to standard
# error and to syslog (when `logger` is there). Messages never hold the token.

log() { # level message
  if [ -n "$log_file" ]; then
    _escaped=$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\n' ' ')
    printf 'time=%s level=%s msg="%s" source=mitigator-forward.sh\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$_escaped" >>"$log_file" 2>/dev/null
  fi
  case $1 in
    warn | error)
      printf 'mitigator-forward: %s: %s\n' "$1" "$2" >&2
      if command -v logger >/dev/null 2>&1; then
        if [ "$1" = warn ]; then _priority=user.warning; else _priority=user.err; fi
        printf '%s\n' "$2" | logger -t mitigator-forward -p "$_priority" 2>/dev/null
      fi
      ;;
  esac
}

printf '%s' "$warnings" | while IFS= read -r w; do log warn "$w"; done

# ---------------------------------------------------------------------------------------------
# Small helpers

alive() { # pid: is that process still running? (the forwarder runs as one user: ADS's)
  kill -0 "$1" 2>/dev/null || [ -d "/proc/$1" ]
}

now() { date +%s 2>/dev/null || echo 0; }

pause() { sleep 0.2 2>/dev/null || sleep 1; }

is_number() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

counter=0
# A name that sorts by time of arrival (fixed width: UTC time, pid, a counter in this run).
next_name() {
  counter=$((counter + 1))
  name_now=$(date -u +%Y%m%dT%H%M%SZ)-$(printf '%010d' "$$")-$(printf '%04d' "$counter")
}

# ---------------------------------------------------------------------------------------------
# The new lines: read all of standard input into a hidden file in the spool (or, when the spool
# cannot be written, into $TMPDIR, and say so).

mkdir -p "$spool" 2>/dev/null
body=
body_text=
body_in_spool=no
next_name
if (set -C && : >"$spool/.in.$name_now") 2>/dev/null; then
  body=$spool/.in.$name_now
  body_in_spool=yes
else
  log error "cannot write to the spool $spool: events that cannot be delivered now will be lost (check its owner and free space)"
  fallback=${TMPDIR:-/tmp}/mitigator-forward.$name_now
  if (set -C && : >"$fallback") 2>/dev/null; then body=$fallback; fi
fi
input_complete=yes
if [ -n "$body" ]; then
  cat >"$body" || input_complete=no
else
  # Nowhere to write at all: the lines go to stderr and syslog below, once they are known lost.
  body_text=$(cat; echo x)
  body_text=${body_text%x}
fi
body_name=$name_now
pending=no # yes while the new lines are neither delivered nor kept
if [ -n "$body" ] && [ -s "$body" ]; then pending=yes; fi
if [ -z "$body" ] && [ -n "$body_text" ]; then pending=yes; fi
if [ "$input_complete" = no ]; then
  log error "could not write all of the input to $body: the rest of it is lost (disk full?)"
fi

# Work files for curl's answer and messages, beside the body (never named .in.*: those are input).
if [ "$body_in_spool" = yes ]; then work=$spool/.work.$name_now; else work=${TMPDIR:-/tmp}/mitigator-forward-work.$name_now; fi
cleanup_work() { rm -f "$work.answer" "$work.curl-error"; }

# The new lines cannot be sent: make them a spool file (atomic rename), or say loudly that they
# are lost.
keep_body() {
  [ "$pending" = yes ] || return 0
  if [ "$body_in_spool" = yes ] && mv -f "$body" "$spool/$body_name.events" 2>/dev/null; then
    pending=no
    log warn "$1; $(wc -l <"$spool/$body_name.events" | tr -d ' ') line(s) kept in $spool/$body_name.events, sent with the next run"
    return 0
  fi
  # From $TMPDIR into the spool: copied to a hidden name first, so the flush never sees half a file.
  if [ -n "$body" ] && cp "$body" "$spool/.in.$body_name" 2>/dev/null && mv -f "$spool/.in.$body_name" "$spool/$body_name.events" 2>/dev/null; then
    rm -f "$body"
    pending=no
    log warn "$1; kept in $spool/$body_name.events, sent with the next run"
    return 0
  fi
  rm -f "$spool/.in.$body_name" 2>/dev/null
  log error "LOST: $1, and the spool $spool cannot be written: the detection lines follow on standard error and in syslog (tag mitigator-forward-lost); feed them to mitigator by hand"
  if [ -n "$body" ]; then
    sed 's/^/mitigator-forward: lost: /' "$body" >&2
    if command -v logger >/dev/null 2>&1; then logger -t mitigator-forward-lost -p user.err <"$body" 2>/dev/null; fi
    rm -f "$body"
  else
    printf '%s' "$body_text" | sed 's/^/mitigator-forward: lost: /' >&2
    if command -v logger >/dev/null 2>&1; then printf '%s' "$body_text" | logger -t mitigator-forward-lost -p user.err 2>/dev/null; fi
  fi
  pending=lost
  return 1
}

# ---------------------------------------------------------------------------------------------
# The spool lock: a directory (mkdir is atomic) holding the holder's pid. Only the holder sends
# spool files, so no file is sent twice by two runs at once, and they go out oldest first.

lock=$spool/.lock
have_lock=no

take_lock() {
  _deadline=$(($(now) + lock_wait))
  _tries=0
  _no_pid_since=
  while :; do
    if mkdir "$lock" 2>/dev/null; then
      echo "$$" >"$lock/pid"
      have_lock=yes
      return 0
    fi
    [ -d "$lock" ] || return 2 # not there and cannot be made: the spool is not writable
    _holder=
    [ -r "$lock/pid" ] && IFS= read -r _holder <"$lock/pid"
    if is_number "$_holder"; then
      _no_pid_since=
      if ! alive "$_holder"; then
        # The holder died without letting go: take the lock away (renamed first: atomic).
        log warn "the spool lock of process $_holder (no longer running) is broken"
        mv "$lock" "$lock.stale.$$" 2>/dev/null && rm -rf "$lock.stale.$$"
        continue
      fi
    elif [ -z "$_no_pid_since" ]; then
      _no_pid_since=$(now) # between the holder's mkdir and its pid: give it a moment
    elif [ $(($(now) - _no_pid_since)) -ge 5 ]; then
      log warn "the spool lock $lock has no holder: broken"
      mv "$lock" "$lock.stale.$$" 2>/dev/null && rm -rf "$lock.stale.$$"
      _no_pid_since=
      continue
    fi
    _tries=$((_tries + 1))
    [ "$(now)" -lt "$_deadline" ] && [ "$_tries" -le $((lock_wait * 5)) ] || return 1
    pause
  done
}

release_lock() {
  [ "$have_lock" = yes ] || return 0
  have_lock=no
  _holder=
  [ -r "$lock/pid" ] && IFS= read -r _holder <"$lock/pid"
  # Only our own lock (it may have been broken and taken by another run meanwhile).
  if [ "$_holder" = "$$" ]; then rm -f "$lock/pid" && rmdir "$lock" 2>/dev/null; fi
}

on_signal() {
  keep_body "stopped by a signal before the events were delivered" || true
  release_lock
  cleanup_work
  exit 1
}
trap on_signal HUP INT TERM

# ---------------------------------------------------------------------------------------------
# The settings, checked; the token, read into the shell only.

problem=
case $url in
  https://?*) ;;
  http://127.* | http://localhost | http://localhost[:/]* | http://\[::1\]*) ;;
  http://*) problem="MITIGATOR_URL $url is plain http to another host: the token would travel in clear; use https" ;;
  '') problem="MITIGATOR_URL (parameter url) is not set" ;;
  *) problem="MITIGATOR_URL $url is not an http(s) URL" ;;
esac
endpoint=${url%/}/v1/events
for n in "$timeout" "$connect_timeout" "$flush_budget" "$lock_wait"; do
  is_number "$n" || problem="timeouts are whole seconds (got '$n')"
done
case $instance in
  '' | *[!A-Za-z0-9._-]*) problem="MITIGATOR_INSTANCE (parameter instance) '$instance' is not a name of letters, digits, dots, hyphens and underscores" ;;
esac

token=
if [ -z "$problem" ]; then
  if [ -z "$token_file" ]; then
    problem="MITIGATOR_TOKEN_FILE (parameter token-file) is not set"
  elif [ ! -f "$token_file" ] || [ ! -r "$token_file" ]; then
    problem="the token file $token_file is not a readable regular file"
  else
    _mode=$(ls -dLl "$token_file" 2>/dev/null)
    case ${_mode%% *} in
      -???------*) ;;
      *) problem="the token file $token_file can be read by group or others (${_mode%% *}): run chmod 600 $token_file" ;;
    esac
  fi
fi
if [ -z "$problem" ]; then
  IFS= read -r token <"$token_file" || [ -n "$token" ]
  # Surrounding blanks and a Windows line end are not part of the token.
  cr=$(printf '\r')
  token=${token%"$cr"}
  while :; do case $token in [[:space:]]*) token=${token#?} ;; *[[:space:]]) token=${token%?} ;; *) break ;; esac; done
  case $token in
    '') problem="the token file $token_file is empty" ;;
    *[![:graph:]]* | *[\"\\]*) problem="the token in $token_file has blanks, quotes or backslashes: not a bearer token" ;;
  esac
fi
if [ -n "$problem" ]; then
  log error "$problem"
  if [ "$pending" = no ] && [ -n "$body" ]; then rm -f "$body"; fi
  keep_body "not sent ($problem)" || { cleanup_work; exit 1; }
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Sending

# post FILE: one POST of FILE; sets $status (the HTTP status, 000 when there was no answer) and
# $answer / $why for the log. Returns 0 for a 200.
post() {
  set -- -q --config - --silent --show-error \
    --connect-timeout "$connect_timeout" --max-time "$timeout" --proto '=https,http' --tlsv1.2 \
    --header 'Content-Type: text/plain' --header 'Expect:' --data-binary "@$1" \
    --output "$work.answer" --write-out '%{http_code}'
  if [ -n "$ca" ]; then set -- "$@" --cacert "$ca"; fi
  if [ -n "$pin" ]; then set -- "$@" --pinnedpubkey "$pin"; fi
  if [ -n "$instance" ]; then set -- "$@" --header "Mitigator-Instance: $instance"; fi
  rm -f "$work.answer"
  # printf is a shell builtin: the token goes down the pipe, never into an argument list.
  status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" | curl "$@" "$endpoint" 2>"$work.curl-error")
  is_number "$status" || status=000
  answer=$(dd if="$work.answer" bs=300 count=1 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')
  why=$(dd if="$work.curl-error" bs=300 count=1 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')
  [ "$status" = 200 ]
}

# What a failed POST was: for the log.
failure() {
  if [ "$status" = 000 ]; then echo "no answer from $endpoint (${why:-curl failed})"; else echo "$endpoint answered $status ${answer}"; fi
}

# 400 (not text) and 413 (too large) will be the same next time: set the file aside.
refused() { [ "$status" = 400 ] || [ "$status" = 413 ]; }

set_aside() { # file
  mkdir -p "$spool/refused" 2>/dev/null
  _aside=$spool/refused/$(basename "$1" | sed 's/^\.in\.//; s/\.events$//').events
  if mv -f "$1" "$_aside" 2>/dev/null; then
    log error "$(failure): the server will not take these lines; kept in $_aside (after fixing, move it back into $spool)"
    return 0
  fi
  return 1
}

# Runs killed while reading their input left hidden .in.* files: the lines they hold join the
# spool (a cut last line is rejected by the server; resending whole lines is harmless: the
# server drops duplicates by their dedupe keys).
adopt_orphans() {
  for _orphan in "$spool"/.in.*; do
    [ -f "$_orphan" ] || continue
    _base=${_orphan##*/.in.}
    case $_base in *.* | */*) continue ;; esac # not a name this script makes
    _pid=${_base#*-}
    _pid=${_pid%%-*}
    _pid=${_pid#"${_pid%%[!0]*}"}
    is_number "$_pid" || continue
    [ "$_pid" = "$$" ] && continue
    alive "$_pid" && continue
    if [ -s "$_orphan" ]; then
      mv -f "$_orphan" "$spool/$_base.events" 2>/dev/null && log warn "lines left by an interrupted run ($_pid) kept in $spool/$_base.events"
    else
      rm -f "$_orphan"
    fi
  done
  for _orphan in "$spool"/.work.*; do
    [ -f "$_orphan" ] || continue
    _pid=${_orphan##*/.work.}
    _pid=${_pid#*-}
    _pid=${_pid%%-*}
    _pid=${_pid#"${_pid%%[!0]*}"}
    is_number "$_pid" && [ "$_pid" != "$$" ] && ! alive "$_pid" && rm -f "$_orphan"
  done
}

# Sends the spool, oldest first, until it is empty, a POST fails or the time budget is spent.
# Returns 0 when the spool is empty.
flush() {
  adopt_orphans
  _started=$(now)
  _sent=0
  while :; do
    _oldest=
    for _file in "$spool"/*.events; do
      [ -f "$_file" ] && _oldest=$_file
      break # the glob is sorted: the first is the oldest
    done
    [ -n "$_oldest" ] || return 0
    if [ "$_sent" -gt 0 ] && [ $(($(now) - _started)) -ge "$flush_budget" ]; then
      log info "spent ${flush_budget}s sending the spool: the rest goes with the next run"
      return 1
    fi
    if post "$_oldest"; then
      log info "delivered $_oldest: $answer"
      # Deleted only after the 200; if it cannot be deleted, stop rather than send it again.
      rm -f "$_oldest" || { log error "cannot delete the delivered $_oldest: stopping"; return 1; }
      [ -e "$_oldest" ] && { log error "cannot delete the delivered $_oldest: stopping"; return 1; }
    elif refused; then
      set_aside "$_oldest" || return 1
    else
      log warn "$(failure): the spool waits for the next run"
      return 1
    fi
    _sent=$((_sent + 1))
  done
}

spool_empty=no
why_kept="older lines in the spool could not be sent (they go first)"
take_lock
case $? in
  0) flush && spool_empty=yes ;;
  1) why_kept="another run has been sending the spool for ${lock_wait}s" ;;
  *)
    log error "cannot make the spool lock $lock: the spool is not sent"
    # No older lines to go first: the new ones are still worth a try.
    spool_empty=yes
    for _file in "$spool"/*.events; do [ -e "$_file" ] && spool_empty=no; break; done
    ;;
esac

if [ "$pending" = yes ]; then
  if [ "$spool_empty" = yes ] && [ -z "$body" ]; then
    keep_body "not sent: nowhere to write them for curl" || true
  elif [ "$spool_empty" = yes ]; then
    if post "$body"; then
      lines=$(wc -l <"$body" | tr -d ' ')
      rm -f "$body"
      pending=no
      log info "delivered $lines new line(s): $answer"
    elif refused && [ "$body_in_spool" = yes ] && set_aside "$body"; then
      pending=no
    else
      keep_body "$(failure)" || true
    fi
  else
    keep_body "$why_kept" || true
  fi
elif [ -n "$body" ]; then
  rm -f "$body" # nothing came in: this run only sent the spool
fi

release_lock
cleanup_work
[ "$pending" = lost ] && exit 1
exit 0
