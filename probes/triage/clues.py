"""The clue table: what error text says, and which symptom it points at.

Each clue is a case-insensitive regular expression and a weight.  A symptom's
score is the sum of the weights of its clues found in the text (each clue counted
once), so a traceback that says ``ConnectTimeoutError`` and ``timed out`` outranks
one stray word.  Weights: 12 for names that mean one thing (``ECONNREFUSED``,
``curl: (28)``, ``CERTIFICATE_VERIFY_FAILED``), 8 for phrases (``connection timed
out``), 6 for status codes and short words, 2-4 for hints (``redis``,
``disconnected``).  Symptom ids are those of :mod:`probes.run.plans` (a test holds
the table to that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Clue:
    symptom: str
    pattern: str
    weight: int
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern, re.IGNORECASE))


def _status(code: int) -> str:
    """A bare HTTP status code, not a line number, a decimal or part of a path."""
    return rf"(?<![\w.:/#-])(?<!line )(?<!port ){code}(?!\w|\.\d)"


def _curl(*codes: int) -> str:
    """curl's exit codes as curl prints them (``curl: (7)``) or as a shell tells them."""
    alternatives = "|".join(str(c) for c in codes)
    return (
        rf"curl: \((?:{alternatives})\)|curl\b.{{0,40}}\bexit (?:code|status) (?:{alternatives})\b"
    )


CLUES: tuple[Clue, ...] = (
    # -- refused: something answered the SYN with a reset ------------------------------
    Clue("refused", r"connection refused|connection was refused|was refused", 10),
    Clue("refused", r"\bECONNREFUSED\b|\bConnectionRefusedError\b|\berrno[ =]?111\b", 12),
    Clue("refused", r"\[Errno 111\]|\bconnect: connection refused\b|actively refused", 12),
    Clue("refused", r"\bConnect call failed\b|errno=111|\bERR_CONNECTION_REFUSED\b", 12),
    Clue("refused", r"couldn't connect to server|could not connect to (?:redis|server)", 8),
    Clue("refused", r"\bConnectException\b|\bAnnotatedConnectException\b", 6),
    Clue("refused", _curl(7), 12),
    Clue("refused", r"\brefused\b", 6),
    Clue("refused", r"\bredis\b|\bpostgres(?:ql)?\b|\bpsql\b", 2),
    # -- timeout: no answer at all, or no route ------------------------------------------
    Clue("timeout", r"time[ds]? ?out|timeout", 8),
    Clue("timeout", r"\bETIMEDOUT\b|\bErrno 110\]|\bConnectTimeout(?:Error|Exception)?\b", 12),
    Clue("timeout", r"\bSocketTimeoutException\b|\bUND_ERR_CONNECT_TIMEOUT\b|i/o timeout", 12),
    Clue("timeout", r"context deadline exceeded|Client\.Timeout exceeded|deadline exceeded", 10),
    Clue("timeout", r"\bERR_CONNECTION_TIMED_OUT\b|\bERR_TIMED_OUT\b|\bServerTimeoutError\b", 12),
    Clue("timeout", r"\bReadTimeout(?:Error)?\b|\bConnectionTimeout\b|\bTimeoutError\b", 10),
    Clue("timeout", r"host (?:is )?unreachable|no route to host|network is unreachable", 10),
    Clue("timeout", r"\bE(?:HOST|NET)UNREACH\b|\bNoRouteToHostException\b|Errno (?:113|101)\]", 12),
    Clue("timeout", r"gateway time-?out|" + _status(504), 8),
    Clue("timeout", _curl(28), 12),
    Clue("timeout", r"\bhangs?\b|\bhanging\b", 4),
    # -- dns: the name does not resolve ------------------------------------------------------
    Clue("dns", r"name or service not known|nodename nor servname|no such host", 12),
    Clue("dns", r"temporary failure in name resolution|could not resolve|unknown host", 12),
    Clue("dns", r"\bENOTFOUND\b|\bEAI_AGAIN\b|\bEAI_NONAME\b|\bUnknownHostException\b", 12),
    Clue("dns", r"\bgaierror\b|\bErrno -[23]\]|getaddrinfo|\bNXDOMAIN\b|\bSERVFAIL\b", 10),
    Clue("dns", r"\bERR_NAME_NOT_RESOLVED\b|name resolution|failed to resolve|\blookup\b", 8),
    Clue("dns", r"server misbehaving|host not found|could not translate host name", 10),
    Clue("dns", _curl(6), 12),
    Clue("dns", r"\bdns\b|\bresolv", 4),
    # -- tls: certificates and handshakes ----------------------------------------------------
    Clue("tls", r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|\bx509:", 12),
    Clue("tls", r"certificate has expired|CERT_HAS_EXPIRED|CertificateExpiredException", 12),
    Clue("tls", r"self[- ]signed certificate|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT", 12),
    Clue("tls", r"unable to get local issuer certificate|unable to verify the first cert", 12),
    Clue("tls", r"UNABLE_TO_VERIFY_LEAF_SIGNATURE|PKIX path building failed|SSLHandshake", 12),
    Clue("tls", r"valid certification path|ERR_TLS_CERT_ALTNAME_INVALID|does not match cert", 12),
    Clue("tls", r"hostname mismatch|no alternative certificate subject name|\bcertificate\b", 8),
    Clue("tls", r"\bERR_CERT_[A-Z_]+|\bERR_SSL_[A-Z_]+|\bSSLError\b|\bSSL routines\b", 12),
    Clue("tls", r"wrong version number|handshake failure|\btls:|unknown ca\b", 10),
    Clue("tls", r"protocol version|no shared cipher|no peer certificate|verify error", 10),
    Clue("tls", r"TLS handshake timeout|gave HTTP response to HTTPS client|bad certificate", 14),
    Clue("tls", r"\bcert\b|\bssl\b|\btls\b|\bhttps\b", 4),
    Clue("tls", _curl(35, 51, 58, 59, 60, 77, 83, 90, 91), 12),
    # -- auth: the server answers and refuses the request ---------------------------------------
    Clue("auth", r"\bunauthori[sz]ed\b|authentication (?:failed|required)|not authori[sz]ed", 10),
    Clue("auth", r"\bforbidden\b|access denied|permission denied|invalid (?:api )?key", 10),
    Clue("auth", r"\bNOAUTH\b|\bWRONGPASS\b|password authentication failed|pg_hba\.conf", 12),
    Clue("auth", r"\bapi[ _-]?key\b|\btoken (?:expired|is invalid|invalid)\b|\bcredentials?\b", 6),
    Clue("auth", r"rate[ -]?limit|too many requests|toomanyrequests|\bthrottl", 10),
    Clue("auth", r"must be logged in|\blogin failed\b|invalid username|\bauth\b", 6),
    Clue("auth", _status(401) + "|" + _status(403) + "|" + _status(429), 8),
    Clue("auth", _curl(67, 94), 12),
    # -- slow -----------------------------------------------------------------------------
    Clue("slow", r"\bslow\b|takes? (?:too|very|far too) long|latency|\blagg?(?:y|ing)?\b", 8),
    Clue("slow", r"time to first byte|\bTTFB\b", 10),
    # -- intermittent: it worked, then the connection went away ---------------------------------
    Clue("intermittent", r"connection reset|reset by peer|\bECONNRESET\b|Errno 104\]", 12),
    Clue("intermittent", r"\bERR_CONNECTION_RESET\b|socket hang up|broken pipe|\bEPIPE\b", 12),
    Clue("intermittent", r"server disconnected|ServerDisconnectedError|RemoteDisconnected", 12),
    Clue("intermittent", r"closed the connection unexpectedly|connection (?:was )?closed", 8),
    Clue("intermittent", r"remote end closed|unexpected EOF|\bEOF\b|empty reply", 6),
    Clue("intermittent", r"\bdisconnect(?:ed)?\b|\bintermittent|\bflaky\b|sometimes|\bdrops?\b", 4),
    Clue("intermittent", r"packet loss|connection lost|\bjitter\b", 8),
    Clue("intermittent", _curl(52, 55, 56), 12),
    # -- too many connections ----------------------------------------------------------------
    Clue("too-many-connections", r"too many (?:clients|connections)|max number of clients", 12),
    Clue("too-many-connections", r"too many open files|\bEMFILE\b|\bENFILE\b", 12),
    Clue("too-many-connections", r"connection slots are reserved|max_connections", 12),
    # A pool that waited in vain says "timed out" too: its own words must outweigh that.
    Clue(
        "too-many-connections",
        r"pool (?:is )?exhausted|QueuePool limit|connection is not available",
        20,
    ),
    Clue("too-many-connections", r"connection pool|\bEADDRNOTAVAIL\b", 12),
    Clue("too-many-connections", r"cannot assign requested address|Errno 99\]|backlog", 10),
    Clue("too-many-connections", r"\bTIME_WAIT\b|\bCLOSE_WAIT\b|\bulimit\b", 8),
    # -- proxy ------------------------------------------------------------------------------
    Clue("proxy", r"proxy authentication|\bProxyError\b|cannot connect to proxy", 12),
    Clue("proxy", r"ERR_PROXY_CONNECTION_FAILED|ERR_TUNNEL_CONNECTION_FAILED|proxyconnect", 12),
    Clue("proxy", r"unable to tunnel through proxy|\bCONNECT tunnel failed\b", 12),
    Clue("proxy", _status(407) + r"|\bHTTPS?_PROXY\b|\bNO_PROXY\b", 10),
    Clue("proxy", r"\bproxy\b", 6),
    Clue("proxy", _curl(5, 97), 12),
    # -- websocket ------------------------------------------------------------------------------
    Clue("websocket", r"web ?socket|\bwss?://", 10),
    Clue("websocket", r"bad handshake|Unexpected response code|WSServerHandshakeError", 8),
    Clue("websocket", r"error during websocket handshake|\bupgrade\b", 6),
    # -- cors -----------------------------------------------------------------------------------
    Clue("cors", r"\bCORS\b|Access-Control-Allow-\w+|Cross-Origin Request Blocked", 12),
    Clue("cors", r"same origin policy|\bpreflight\b|from origin\b", 10),
    # -- service down --------------------------------------------------------------------------
    Clue("service-down", r"service unavailable|bad gateway|" + _status(503), 10),
    Clue("service-down", _status(502), 10),
    Clue("service-down", r"exit(?:ed)? (?:with )?(?:code|status) 137|Exited \(137\)", 12),
    Clue("service-down", r"\bOOMKilled\b|out of memory|oom[- ]kill|\bSIGKILL\b|status=9/KILL", 12),
    Clue("service-down", r"CrashLoopBackOff|back-off restarting|terminated abnormally", 12),
    Clue("service-down", r"is the docker daemon running|database system is (?:starting|shut)", 12),
    Clue(
        "service-down", r"\bLOADING Redis\b|\bMISCONF\b|\bREADONLY\b|currently unable to handle", 12
    ),
    Clue("service-down", r"\bcrash(?:es|ed|ing)?\b|keeps dying|\bdied\b|\bkilled\b|\bdown\b", 6),
)
