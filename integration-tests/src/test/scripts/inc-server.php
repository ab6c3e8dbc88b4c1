<?php
// inc-server.php (RealRuntimesTest): the router of PHP's built-in server (php -S, its workers all
// running it): GET /inc answers the counter, one more each time, kept in a file under flock; /jit
// whether opcache's JIT is on; a hot loop for the tracing JIT to compile.
if ($_SERVER['REQUEST_URI'] === '/jit') {
    $b = (opcache_get_status(false)['jit']['on'] ?? false) ? 'on' : 'off';
} else {
    $f = fopen(__DIR__ . '/inc-server.count', 'c+');
    flock($f, LOCK_EX);
    $b = (string) ((int) stream_get_contents($f) + 1);
    ftruncate($f, 0);
    rewind($f);
    fwrite($f, $b);
    fclose($f);
}
$s = 0;
for ($i = 0; $i < 100000; $i++) {
    $s += ($i * 31) % 7;
}
header('Content-Length: ' . strlen($b));
echo $b;
