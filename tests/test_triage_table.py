"""Real error strings, as each ecosystem prints them, mapped to the symptom that
must rank first and (when the text names one) the target.

Each row says where the string comes from: the library's source (the format
string that builds it) or its documentation.  Hosts and ports are made up; the
shapes are not.  ``None`` as the target means the text names no host (or no
port), so a face has to ask.
"""

from __future__ import annotations

import pytest

from probes.core.target import parse_target
from probes.run.plans import SYMPTOM_IDS
from probes.triage.clues import CLUES
from probes.triage.naming import missing_reason, name_target
from probes.triage.reading import read_error

# (text, symptom ranked first, target field text or None, where it comes from)
ROWS: list[tuple[str, str, str | None, str]] = [
    # -- the issue's own list (issue 17) --------------------------------------------------
    ("Connection timed out", "timeout", None, "issue 17"),
    ("Request timeout", "timeout", None, "issue 17"),
    ("Host unreachable", "timeout", None, "issue 17"),
    ("Authentication failed", "auth", None, "issue 17"),
    ("Forbidden", "auth", None, "issue 17"),
    ("401 Unauthorized", "auth", None, "issue 17"),
    ("api key", "auth", None, "issue 17"),
    ("certificate verify failed", "tls", None, "issue 17"),
    ("Certificate has expired", "tls", None, "issue 17"),
    ("WebSocket connection failed", "websocket", None, "issue 17"),
    ("CORS policy", "cors", None, "issue 17"),
    ("too many clients", "too-many-connections", None, "issue 17"),
    ("NOAUTH", "auth", None, "issue 17"),
    ("Connection reset by peer", "intermittent", None, "issue 17"),
    ("Service unavailable", "service-down", None, "issue 17"),
    ("503", "service-down", None, "issue 17"),
    ("502", "service-down", None, "issue 17"),
    ("disconnected", "intermittent", None, "issue 17"),
    ("Connection pool exhausted", "too-many-connections", None, "issue 17"),
    ("rate limit", "auth", None, "issue 17"),
    ("proxy authentication", "proxy", None, "issue 17"),
    ("exit code 137", "service-down", None, "issue 17"),
    ("redis", "refused", None, "issue 17"),
    # -- Python: requests / urllib3 / httpx / aiohttp / urllib / psycopg / redis-py -------------
    (
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='qdrant', port=6333): "
        "Max retries exceeded with url: /collections (Caused by NewConnectionError("
        "'<urllib3.connection.HTTPConnection object at 0x7f2b>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))",
        "refused",
        "http://qdrant:6333/collections",
        "urllib3 connectionpool.py MaxRetryError + connection.py NewConnectionError",
    ),
    (
        "requests.exceptions.ConnectTimeout: HTTPSConnectionPool(host='api.example.com', "
        "port=443): Max retries exceeded with url: /v1/items (Caused by ConnectTimeoutError("
        "<urllib3.connection.HTTPSConnection object at 0x7f>, 'Connection to api.example.com "
        "timed out. (connect timeout=5)'))",
        "timeout",
        "https://api.example.com:443/v1/items",
        "requests adapters.py ConnectTimeout, urllib3 ConnectTimeoutError",
    ),
    (
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.example.com', port=443): "
        "Read timed out. (read timeout=10)",
        "timeout",
        "https://api.example.com:443/",
        "urllib3 connectionpool.py _raise_timeout",
    ),
    (
        "requests.exceptions.SSLError: HTTPSConnectionPool(host='self-signed.example', port=443): "
        "Max retries exceeded with url: / (Caused by SSLError(SSLCertVerificationError(1, "
        "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
        "(_ssl.c:1006)')))",
        "tls",
        "https://self-signed.example:443/",
        "CPython _ssl.c verify message via urllib3",
    ),
    (
        "requests.exceptions.ProxyError: HTTPSConnectionPool(host='pypi.org', port=443): Max "
        "retries exceeded with url: /simple/ (Caused by ProxyError('Cannot connect to proxy.', "
        "OSError('Tunnel connection failed: 407 Proxy Authentication Required')))",
        "proxy",
        "https://pypi.org:443/simple/",
        "urllib3 ProxyError('Cannot connect to proxy.')",
    ),
    (
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.exmaple.com', "
        "port=443): Max retries exceeded with url: / (Caused by NameResolutionError("
        '"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve '
        "'api.exmaple.com' ([Errno -2] Name or service not known)\"))",
        "dns",
        "https://api.exmaple.com:443/",
        "urllib3 2.x NameResolutionError",
    ),
    (
        "requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: "
        "https://api.example.com/v1/search",
        "auth",
        "https://api.example.com/v1/search",
        "requests models.py raise_for_status",
    ),
    (
        "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: "
        "http://backend.internal:8080/health",
        "service-down",
        "http://backend.internal:8080/health",
        "requests raise_for_status",
    ),
    (
        "httpx.ConnectError: [Errno 111] Connection refused",
        "refused",
        None,
        "httpx _transports/default.py maps httpcore.ConnectError",
    ),
    (
        "httpx.ConnectTimeout: timed out",
        "timeout",
        None,
        "httpx ConnectTimeout",
    ),
    (
        "httpx.RemoteProtocolError: Server disconnected without sending a response.",
        "intermittent",
        None,
        "httpcore _async/http11.py",
    ),
    (
        "httpx.HTTPStatusError: Client error '401 Unauthorized' for url "
        "'https://api.example.com/v2/me'",
        "auth",
        "https://api.example.com/v2/me",
        "httpx _models.py raise_for_status",
    ),
    (
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host "
        "payments.internal:8443 ssl:default [Connect call failed ('10.0.0.7', 8443)]",
        "refused",
        "https://payments.internal:8443/",
        "aiohttp client_exceptions.py __str__",
    ),
    (
        "aiohttp.client_exceptions.ClientConnectorCertificateError: Cannot connect to host "
        "expired.example:443 ssl:True [SSLCertVerificationError: (1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired "
        "(_ssl.c:1006)')]",
        "tls",
        "https://expired.example:443/",
        "aiohttp ClientConnectorCertificateError",
    ),
    (
        "aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected",
        "intermittent",
        None,
        "aiohttp client_exceptions.py",
    ),
    (
        "aiohttp.client_exceptions.WSServerHandshakeError: 403, message='Invalid response "
        "status', url=URL('wss://stream.example.com/ws')",
        "websocket",
        "wss://stream.example.com/ws",
        "aiohttp client.py _ws_connect",
    ),
    (
        "urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>",
        "dns",
        None,
        "CPython urllib/request.py do_open",
    ),
    (
        "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 8000)",
        "refused",
        "127.0.0.1:8000",
        "CPython asyncio selector_events.py sock_connect",
    ),
    (
        'psycopg2.OperationalError: connection to server at "db.internal" (10.0.0.5), port '
        "5432 failed: FATAL:  sorry, too many clients already",
        "too-many-connections",
        "postgres://db.internal:5432",
        "libpq fe-connect.c + postmaster",
    ),
    (
        "redis.exceptions.ConnectionError: Error 111 connecting to cache.internal:6379. "
        "Connection refused.",
        "refused",
        "redis://cache.internal:6379",
        "redis-py connection.py _error_message",
    ),
    (
        "redis.exceptions.AuthenticationError: invalid username-password pair or user is disabled.",
        "auth",
        None,
        "redis-py / Redis WRONGPASS reply",
    ),
    (
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection "
        "timed out, timeout 30.00",
        "too-many-connections",
        None,
        "SQLAlchemy pool/impl.py QueuePool._do_get",
    ),
    # -- Node.js -------------------------------------------------------------------------
    (
        "Error: connect ECONNREFUSED 127.0.0.1:3000\n    at TCPConnectWrap.afterConnect "
        "[as oncomplete] (node:net:1555:16)",
        "refused",
        "127.0.0.1:3000",
        "node lib/internal/errors.js exceptionWithHostPort",
    ),
    (
        "Error: connect ECONNREFUSED ::1:5432",
        "refused",
        "postgres://[::1]:5432",
        "node exceptionWithHostPort (IPv6 address printed without brackets)",
    ),
    (
        "Error: getaddrinfo ENOTFOUND api.example.invalid",
        "dns",
        None,
        "node lib/internal/errors.js dnsException (no port)",
    ),
    ("Error: getaddrinfo EAI_AGAIN registry.npmjs.org", "dns", None, "node dnsException"),
    (
        "Error: connect ETIMEDOUT 10.20.0.9:443",
        "timeout",
        "https://10.20.0.9:443/",
        "node exceptionWithHostPort",
    ),
    ("Error: read ECONNRESET", "intermittent", None, "node lib/internal/stream_base_commons.js"),
    ("Error: socket hang up", "intermittent", None, "node lib/_http_client.js connResetException"),
    (
        "Error: unable to verify the first certificate",
        "tls",
        None,
        "node/OpenSSL UNABLE_TO_VERIFY_LEAF_SIGNATURE text",
    ),
    (
        "Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: "
        "Host: api.example.com. is not in the cert's altnames: DNS:*.example.org",
        "tls",
        None,
        "node lib/tls.js checkServerIdentity",
    ),
    (
        "TypeError: fetch failed\n  [cause]: ConnectTimeoutError: Connect Timeout Error "
        "(attempted address: api.example.com:443, timeout: 10000ms)\n  code: "
        "'UND_ERR_CONNECT_TIMEOUT'",
        "timeout",
        "https://api.example.com:443/",
        "undici lib/core/errors.js",
    ),
    (
        "Error: EMFILE: too many open files, open '/srv/app/data.json'",
        "too-many-connections",
        None,
        "libuv UV_EMFILE via node fs",
    ),
    # -- Java --------------------------------------------------------------------------------
    (
        "java.net.ConnectException: Connection refused (Connection refused)\n\tat "
        "java.base/sun.nio.ch.Net.connect0(Native Method)",
        "refused",
        None,
        "OpenJDK Net.c",
    ),
    (
        "io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: "
        "localhost/127.0.0.1:8080",
        "refused",
        "localhost:8080",
        "Netty AbstractChannel.annotateConnectException",
    ),
    (
        "java.net.SocketTimeoutException: Connect timed out",
        "timeout",
        None,
        "OpenJDK NioSocketImpl",
    ),
    (
        "java.net.UnknownHostException: db.internal: Name or service not known",
        "dns",
        None,
        "OpenJDK Inet6AddressImpl.lookupAllHostAddr",
    ),
    (
        "java.net.NoRouteToHostException: No route to host (Host unreachable)",
        "timeout",
        None,
        "OpenJDK Net.c",
    ),
    (
        "javax.net.ssl.SSLHandshakeException: PKIX path building failed: "
        "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid "
        "certification path to requested target",
        "tls",
        None,
        "OpenJDK sun.security.validator.PKIXValidator",
    ),
    ("java.net.SocketException: Connection reset", "intermittent", None, "OpenJDK NioSocketImpl"),
    (
        "org.apache.http.conn.HttpHostConnectException: Connect to api.example.com:8443 "
        "[api.example.com/93.184.216.34] failed: Connection timed out",
        "timeout",
        "https://api.example.com:8443/",
        "Apache HttpClient DefaultHttpClientConnectionOperator",
    ),
    (
        "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
        "request timed out after 30000ms.",
        "too-many-connections",
        None,
        "HikariCP HikariPool.createTimeoutException",
    ),
    (
        'java.io.IOException: Unable to tunnel through proxy. Proxy returns "HTTP/1.1 407 Proxy '
        'Authentication Required"',
        "proxy",
        None,
        "OpenJDK HttpURLConnection.doTunneling",
    ),
    # -- Go ----------------------------------------------------------------------------------
    (
        'Get "http://10.0.0.7:6333/collections": dial tcp 10.0.0.7:6333: connect: connection '
        "refused",
        "refused",
        "http://10.0.0.7:6333/collections",
        "Go net/http client.go + net.OpError",
    ),
    (
        "dial tcp: lookup db.internal on 127.0.0.53:53: no such host",
        "dns",
        None,
        "Go net/dnsclient_unix.go (the resolver's address is not the target)",
    ),
    (
        'Get "https://api.example.com/v1": dial tcp 93.184.216.34:443: i/o timeout',
        "timeout",
        "https://api.example.com/v1",
        "Go net/http + net poll deadline",
    ),
    (
        'Post "https://hooks.example.com/notify": context deadline exceeded (Client.Timeout '
        "exceeded while awaiting headers)",
        "timeout",
        "https://hooks.example.com/notify",
        "Go net/http client.go",
    ),
    (
        'Get "https://internal.example": x509: certificate signed by unknown authority',
        "tls",
        "https://internal.example/",
        "Go crypto/x509 UnknownAuthorityError",
    ),
    (
        "tls: failed to verify certificate: x509: certificate is valid for a.example.com, not "
        "b.example.com",
        "tls",
        None,
        "Go crypto/x509 HostnameError",
    ),
    (
        "http: server gave HTTP response to HTTPS client",
        "tls",
        None,
        "Go net/http transport.go",
    ),
    (
        "read tcp 10.0.0.2:51234->10.0.0.7:5432: read: connection reset by peer",
        "intermittent",
        None,
        "Go net.OpError with ECONNRESET",
    ),
    ("websocket: bad handshake", "websocket", None, "gorilla/websocket client.go ErrBadHandshake"),
    # -- curl ----------------------------------------------------------------------------------
    (
        "curl: (7) Failed to connect to localhost port 8080 after 0 ms: Couldn't connect to server",
        "refused",
        "localhost:8080",
        "curl lib/connect.c + strerror.c (curl 8)",
    ),
    (
        "curl: (28) Failed to connect to 10.255.255.1 port 80 after 5001 ms: Timeout was reached",
        "timeout",
        "10.255.255.1:80",
        "curl lib/connect.c (curl 8)",
    ),
    (
        "curl: (28) Connection timed out after 10001 milliseconds",
        "timeout",
        None,
        "curl lib/connect.c",
    ),
    ("curl: (6) Could not resolve host: api.example.invalid", "dns", None, "curl lib/hostip.c"),
    (
        "curl: (60) SSL certificate problem: unable to get local issuer certificate\nMore details "
        "here: https://curl.se/docs/sslcerts.html",
        "tls",
        None,
        "curl lib/vtls/openssl.c (the docs link is not a target)",
    ),
    (
        "curl: (60) SSL: no alternative certificate subject name matches target host name "
        "'api.example.com'",
        "tls",
        None,
        "curl lib/vtls/openssl.c verifyhost (host but no port)",
    ),
    ("curl: (56) Recv failure: Connection reset by peer", "intermittent", None, "curl lib/vtls"),
    ("curl: (52) Empty reply from server", "intermittent", None, "curl lib/transfer.c"),
    ("curl: (22) The requested URL returned error: 403", "auth", None, "curl lib/http.c --fail"),
    (
        "curl: (35) OpenSSL/3.0.11: error:0A00010B:SSL routines::wrong version number",
        "tls",
        None,
        "curl lib/vtls/openssl.c",
    ),
    (
        "curl: (97) Can't complete SOCKS5 connection to proxy.corp:1080",
        "proxy",
        None,
        "curl lib/socks.c",
    ),
    ("the job failed: curl exited with exit code 7", "refused", None, "shell script wrapper"),
    # -- OpenSSL -----------------------------------------------------------------------------
    (
        "verify error:num=10:certificate has expired",
        "tls",
        None,
        "openssl s_client apps/lib/s_cb.c",
    ),
    ("verify error:num=20:unable to get local issuer certificate", "tls", None, "openssl s_client"),
    (
        "40E7B1F4A47F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake "
        "failure:ssl/record/rec_layer_s3.c:1586:SSL alert number 40",
        "tls",
        None,
        "OpenSSL 3 error queue",
    ),
    (
        "40F7:error:8000006F:system library:BIO_connect:Connection refused:"
        "crypto/bio/bio_sock2.c:178:calling connect()",
        "refused",
        None,
        "OpenSSL 3 crypto/bio/bio_sock2.c",
    ),
    # -- psql ----------------------------------------------------------------------------------
    (
        'psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: '
        "FATAL:  sorry, too many clients already",
        "too-many-connections",
        "postgres://db.internal:5432",
        "libpq fe-connect.c (PG 14+)",
    ),
    (
        'psql: error: connection to server at "localhost" (127.0.0.1), port 5432 failed: '
        "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
        "connections?",
        "refused",
        "postgres://localhost:5432",
        "libpq fe-connect.c",
    ),
    (
        'psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: '
        'FATAL:  password authentication failed for user "app"',
        "auth",
        "postgres://db.internal:5432",
        "PostgreSQL auth.c",
    ),
    (
        "psql: could not connect to server: Connection refused\n\tIs the server running on host "
        '"pg.internal" (10.0.0.9) and accepting\n\tTCP/IP connections on port 5433?',
        "refused",
        "postgres://pg.internal:5433",
        "libpq fe-connect.c (PG 13 and older)",
    ),
    (
        'psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: '
        "FATAL:  the database system is starting up",
        "service-down",
        "postgres://db.internal:5432",
        "PostgreSQL postmaster.c",
    ),
    (
        'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" '
        "failed: No such file or directory",
        "refused",
        None,
        "libpq (a Unix socket is not a host)",
    ),
    # -- redis-cli -------------------------------------------------------------------------------
    (
        "Could not connect to Redis at 127.0.0.1:6379: Connection refused",
        "refused",
        "redis://127.0.0.1:6379",
        "redis-cli.c cliConnect",
    ),
    ("(error) NOAUTH Authentication required.", "auth", None, "Redis server.c"),
    (
        "(error) ERR max number of clients reached",
        "too-many-connections",
        None,
        "Redis networking.c",
    ),
    ("(error) LOADING Redis is loading the dataset in memory", "service-down", None, "Redis"),
    # -- browsers -----------------------------------------------------------------------------------
    (
        "Access to fetch at 'https://api.example.com/data' from origin 'https://app.example.com' "
        "has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on "
        "the requested resource.",
        "cors",
        "https://api.example.com/data",
        "Chromium cors_error_status / console message",
    ),
    (
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote "
        "resource at https://api.example.com/v1/items. (Reason: CORS header "
        "'Access-Control-Allow-Origin' missing). Status code: 200.",
        "cors",
        "https://api.example.com/v1/items",
        "Firefox dom/security CORS console messages",
    ),
    (
        "WebSocket connection to 'wss://app.example.com/socket' failed: Error during WebSocket "
        "handshake: Unexpected response code: 400",
        "websocket",
        "wss://app.example.com/socket",
        "Chromium websocket_channel console message",
    ),
    (
        "Firefox can’t establish a connection to the server at wss://chat.example.com/ws.",
        "websocket",
        "wss://chat.example.com/ws",
        "Firefox netError WebSocket console message",
    ),
    ("net::ERR_CERT_DATE_INVALID", "tls", None, "Chromium net_error_list.h"),
    (
        "GET https://api.example.com/v1 net::ERR_CONNECTION_REFUSED",
        "refused",
        "https://api.example.com/v1",
        "Chromium console network error",
    ),
    ("net::ERR_NAME_NOT_RESOLVED", "dns", None, "Chromium net_error_list.h"),
    ("net::ERR_PROXY_CONNECTION_FAILED", "proxy", None, "Chromium net_error_list.h"),
    # -- kubectl -----------------------------------------------------------------------------------
    (
        "The connection to the server 10.0.0.1:6443 was refused - did you specify the right host "
        "or port?",
        "refused",
        "https://10.0.0.1:6443/",
        "kubectl staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go",
    ),
    (
        "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout",
        "timeout",
        "https://10.0.0.1:6443/",
        "kubectl helpers.go + Go net",
    ),
    (
        "Unable to connect to the server: x509: certificate signed by unknown authority",
        "tls",
        None,
        "kubectl + Go crypto/x509",
    ),
    (
        "error: You must be logged in to the server (Unauthorized)",
        "auth",
        None,
        "kubectl helpers.go",
    ),
    (
        'Error from server (Forbidden): pods is forbidden: User "dev" cannot list resource '
        '"pods" in API group "" in the namespace "prod"',
        "auth",
        None,
        "Kubernetes apiserver RBAC",
    ),
    (
        "Back-off restarting failed container app in pod web-5d9f",
        "service-down",
        None,
        "kubelet event",
    ),
    (
        "Last State: Terminated\n  Reason: OOMKilled\n  Exit Code: 137",
        "service-down",
        None,
        "kubectl describe pod",
    ),
    # -- docker ----------------------------------------------------------------------------------------
    (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon "
        "running?",
        "service-down",
        None,
        "docker/cli client errors.go",
    ),
    (
        'Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: request '
        "canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)",
        "timeout",
        "https://registry-1.docker.io/v2/",
        "moby registry + Go net/http",
    ),
    (
        "toomanyrequests: You have reached your pull rate limit. You may increase the limit by "
        "authenticating and upgrading: https://www.docker.com/increase-rate-limit",
        "auth",
        None,
        "Docker Hub registry error",
    ),
    ("web-1 exited with code 137", "service-down", None, "docker compose up"),
]


@pytest.mark.parametrize(("text", "symptom", "target", "source"), ROWS)
def test_error_text_names_symptom_and_target(
    text: str, symptom: str, target: str | None, source: str
) -> None:
    reading = read_error(text)
    assert reading.symptom == symptom, (source, [(s.symptom, s.score) for s in reading.ranked])
    named = name_target(text)
    got = named.target() if named is not None else None
    if target is None:
        assert got is None, (source, named)
        assert missing_reason(named)  # a face can say what is missing
    else:
        assert got is not None, (source, named, missing_reason(named))
        assert got == parse_target(target), (source, named)


def test_the_table_is_large_and_covers_every_symptom() -> None:
    assert len(ROWS) >= 60
    assert {row[1] for row in ROWS} >= set(SYMPTOM_IDS) - {"slow", "auto"}


def test_every_clue_names_a_real_symptom() -> None:
    assert {c.symptom for c in CLUES} <= set(SYMPTOM_IDS)


def test_matched_line_is_the_error_line() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/client.py", line 401, in fetch\n'
        "    resp = session.get(url, timeout=5)\n"
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='qdrant', port=6333): "
        "Max retries exceeded with url: / (Caused by NewConnectionError('...: [Errno 111] "
        "Connection refused'))\n"
    )
    reading = read_error(text)
    assert reading.symptom == "refused"
    assert reading.line.startswith("requests.exceptions.ConnectionError")
    assert "Connection refused" in reading.line
    assert name_target(text) is not None
    named = name_target(text)
    assert named is not None and named.field_text == "http://qdrant:6333/"


def test_no_host_is_invented() -> None:
    for text in (
        '  File "/usr/lib/python3/site-packages/urllib3/connection.py", line 174, in _new_conn',
        "2024-05-01T12:30:45Z ERROR connection refused",
        "at 12:30 the job failed: exit code 137",
        "see https://curl.se/docs/sslcerts.html",
        "version 1.2 is broken: ECONNRESET",
    ):
        assert name_target(text) is None, text
