# Builds the `greeting` package with nothing but busybox ($bb) and the
# sources ($src). Run by `busybox sh` in abovo's sandbox.
set -e
$bb mkdir -p $out/bin $out/share/greeting
$bb tr a-z A-Z < $src/greeting.txt > $out/share/greeting/GREETING
# A script that refers to busybox by its store path: a run-time reference.
printf '#!%s sh\n%s cat %s/share/greeting/GREETING\n' $bb $bb $out > $out/bin/greet
$bb chmod 755 $out/bin/greet
