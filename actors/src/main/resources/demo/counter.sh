#!/bin/bash
# counts every 200 ms without forking: `read -t` on a FIFO nobody writes to is bash's own sleep
cd "$(dirname "$0")"
exec >>count.txt 2>&1
[ -p tick ] || mkfifo tick
exec 3<>tick
i=0
while :; do
  i=$((i+1))
  echo "$i"
  read -t 0.2 -u 3 _
done
