#!/bin/sh
# A fleet of three members when etcd or a follower fails (real 3-member cluster, plain
# HTTP without users: fleet_basic.sh and fleet_hostile.sh run with TLS and roles, and
# this one is about failures, made faster without bcrypt logins and handshakes):
# - the etcd member a follower watches is killed: the followers move to another and
#   miss nothing published meanwhile;
# - two of three members stopped (no quorum): every host keeps serving and reports
#   stale, a publish fails and says so (the admin's status: pending); quorum back:
#   every host catches up;
# - the revision a stopped follower would resume its watch from is compacted away: it
#   reads everything again and catches up;
# - a follower SIGKILLed at random instants while the admin publishes: its key and
#   vault always open together, and restarted it serves the latest generation. (The
#   200-kill run against the apply itself is test_fleet's sigkill case.)
. tests/lib.sh
. tests/etcd.sh
. tests/fleet_lib.sh
etcd_require fleet_faults
fs_require fleet_faults
fleet_setup3 fleet_faults
all_serve() { serves h1 app/token "$1" && serves h2 app/token "$1" && serves h3 app/token "$1"; }
stale_is() { hst "$1" fleet status | grep -q "\"stale\":$2"; }
all_stale_are() { stale_is h1 "$1" && stale_is h2 "$1" && stale_is h3 "$1"; }

# --- the watched member is killed ---
ep=$(hst h1 fleet status | sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p')
w=""
for i in 1 2 3; do eval "[ \"\$ETCD_ENDPOINT$i\" = \"$ep\" ]" && w=$i; done
check "h1's status names the etcd endpoint it watches" [ -n "$w" ]
etcd_member_kill "${w:-1}"
printf 'after-kill' | adm set app token 2>>"$T/admin/publish.log"
check "the watched member killed: every host serves what was published after" \
	wait_until 30 all_serve after-kill
ep2=$(hst h1 fleet status | sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p')
check "h1 moved to another endpoint" [ "$ep2" != "$ep" ]
etcd_member_start "${w:-1}"
etcd_member_wait "${w:-1}"

# --- no quorum, then quorum back ---
a=1 b=2
etcd_member_stop $a
etcd_member_stop $b
check "no quorum: every host reports stale" wait_until 30 all_stale_are true
check "no quorum: every host keeps serving" all_serve after-kill
printf during | adm set app token 2>"$T/outage.err"
rc=$?
check "no quorum: a set on the admin exits non-zero" [ "$rc" -ne 0 ]
check "... saying the value is saved here but NOT published" grep -q "NOT published" "$T/outage.err"
check "... and the admin's fleet status says a change is pending" \
	sh -c "'$CS' --config '$T/admin/cs.ini' fleet status | grep -q '\"pending\":true'"
etcd_member_start $a
etcd_member_start $b
etcd_member_wait $a
etcd_member_wait $b
check "quorum back: every host reports fresh again" wait_until 30 all_stale_are false
adm fleet publish 2>>"$T/admin/publish.log"
check "quorum back: every host catches up with the value set during the outage" \
	wait_until 30 all_serve during
check "published: the admin's fleet status is no longer pending" \
	sh -c "'$CS' --config '$T/admin/cs.ini' fleet status | grep -q '\"pending\":false'"

# --- the revision a follower would resume from was compacted ---
# h2's follower is stopped, three values are published and etcd's history is compacted
# past them; the member it watched is killed, so once it runs again its watch must
# resume from a revision etcd no longer has: it reads everything again and catches up.
ep=$(hst h2 fleet status | sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p')
w=""
for i in 1 2 3; do eval "[ \"\$ETCD_ENDPOINT$i\" = \"$ep\" ]" && w=$i; done
kill -STOP "$(cat "$T/h2/follow.pid")"
for v in c1 c2 c3; do printf '%s' "$v" | adm set app token 2>>"$T/admin/publish.log"; done
rev=$(etcdctl_root get --prefix / -w json --keys-only | sed -n 's/.*"revision":\([0-9]*\).*/\1/p')
check "etcd's history is compacted up to revision $rev" etcdctl_root compact "$rev"
etcd_member_kill "${w:-1}"
kill -CONT "$(cat "$T/h2/follow.pid")"
check "compacted past its revision: h2 reads everything again and serves the latest value" \
	wait_until 30 serves h2 app/token c3
check "... and so do h1 and h3" wait_until 30 all_serve c3
etcd_member_start "${w:-1}"
etcd_member_wait "${w:-1}"

# --- a follower killed at random instants while the admin publishes ---
fleet_unfollow h1
( i=0; while [ ! -e "$T/stop-publisher" ]; do
	i=$((i + 1)); printf 'k%s' "$i" | adm set app token 2>>"$T/admin/publish.log"
  done ) &
pub=$!
at_exit "kill $pub 2>/dev/null"
kills=0 torn=0
t0=$(now_ms)
while [ "$kills" -lt 40 ] && [ $(( $(now_ms) - t0 )) -lt 8000 ]; do
	fleet_follow h1
	# a random instant within the follower's first ~0.3 s: connect, read, check, apply
	# (the random kill instant is the point here, not a wait for a condition)
	sleep "$(printf '0.%03d' $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 300 )))"
	fleet_unfollow h1 KILL
	kills=$((kills + 1))
	hst h1 get app token >/dev/null 2>&1 || torn=$((torn + 1))
done
touch "$T/stop-publisher"
wait "$pub"
echo "# follower h1: $kills SIGKILLs in $(( $(now_ms) - t0 )) ms, $torn times key and vault did not open together"
check "a killed follower never leaves key and vault torn ($kills kills)" [ "$torn" -eq 0 ]
fleet_follow h1
g=$(fleet_admin_gen)
check "restarted, the follower serves the latest generation" \
	wait_until 30 sh -c "'$CS' --config '$T/h1/cs.ini' fleet status | grep -q '\"generation\":$g,'"
v=$(adm get app token)
check "... and its mount serves the latest value" wait_until 30 serves h1 app/token "$v"
for h in h1 h2 h3; do fleet_unfollow "$h"; done
done_testing
