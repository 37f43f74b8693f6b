"""Fast unit tests of the load balancer's pure logic: health state machine, matcher, what is in
service (fail open), the pool handed to the proxy, and reading Caddy's metrics."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cumulo.drivers.proxy.traffic import traffic
from cumulo.services.lb import health, pool
from cumulo.services.lb.models import LoadBalancer, Target
from cumulo.services.lb.schemas import HealthCheckIn, LoadBalancerCreate, matches, parse_matcher

OK, FAIL = health.Result(True), health.Result(False, "refused", "Target.FailedHealthChecks")


def run(states: list[health.Result], start: str = "initial", healthy: int = 5, unhealthy: int = 2) -> list[str]:
    counters, state, seen = health.Counters(), start, []
    for r in states:
        state = health.step(state, counters, r, healthy, unhealthy)
        seen.append(state)
    return seen


def test_a_new_target_is_healthy_at_its_first_pass_and_unhealthy_after_the_threshold() -> None:
    assert run([OK]) == ["healthy"]
    assert run([FAIL, FAIL]) == ["initial", "unhealthy"]


def test_thresholds_are_consecutive() -> None:
    assert run([FAIL, OK, FAIL, OK], start="healthy") == ["healthy"] * 4
    assert run([FAIL, FAIL], start="healthy") == ["healthy", "unhealthy"]
    assert run([OK, OK, FAIL, OK, OK, OK, OK, OK], start="unhealthy") == ["unhealthy"] * 7 + ["healthy"]


def test_matcher() -> None:
    assert parse_matcher("200-399") == [(200, 399)]
    assert matches(parse_matcher("200,302"), 302) and not matches(parse_matcher("200,302"), 301)
    for bad in ("", "abc", "600", "399-200", "200-", "100"):
        with pytest.raises(ValueError):
            parse_matcher(bad)


def test_health_check_limits() -> None:
    assert HealthCheckIn().model_dump() == {"path": "/", "port": None, "interval_seconds": 30, "timeout_seconds": 5,
                                            "healthy_threshold": 5, "unhealthy_threshold": 2, "matcher": "200-399"}
    assert HealthCheckIn.model_validate({"expected_status": "200"}).matcher == "200"
    for bad in ({"timeout_seconds": 5, "interval_seconds": 5}, {"healthy_threshold": 1}, {"path": "x"},
                {"path": "/a b"}, {"interval_seconds": 0}, {"unhealthy_threshold": 11}):
        with pytest.raises(ValidationError):
            HealthCheckIn.model_validate(bad)
    with pytest.raises(ValidationError):
        LoadBalancerCreate(name="web", port=18001, hostname="shop.example.com")
    with pytest.raises(ValidationError):
        LoadBalancerCreate.model_validate({"name": "web", "targets": [{"instance_id": "a", "port": 80}] * 2})
    with pytest.raises(ValidationError):
        LoadBalancerCreate(name="Web_1")


def _target(health_state: str, address: str | None = "10.0.0.2", port: int = 80, weight: int = 1) -> Target:
    return Target(id=f"t-{health_state}-{address}-{port}", lb_id="lb1", user_id="u", instance_id="i", port=port,
                  weight=weight, address=address, health=health_state)


def test_only_healthy_targets_are_served_and_none_healthy_fails_open() -> None:
    a, b, c = _target("healthy", "10.0.0.2"), _target("unhealthy", "10.0.0.3"), _target("initial", "10.0.0.4")
    draining, unused = _target("draining", "10.0.0.5"), _target("unused", None)
    assert pool.in_service([a, b, c, draining, unused]) == ([a], False)
    served, fail_open = pool.in_service([b, c, draining, unused])
    assert set(served) == {b, c} and fail_open
    assert pool.in_service([c, draining]) == ([c], False)  # not checked yet: served, not failing open
    assert pool.in_service([draining, unused]) == ([], False)


def test_the_pool_holds_only_what_is_in_service() -> None:
    lb = LoadBalancer(id="lb1", user_id="u", name="web", algorithm="least_conn", sticky_cookie="s",
                      hostname="web-u.localhost", port=None)
    route = pool.route_for(lb, [_target("healthy", "10.0.0.2", weight=3), _target("unhealthy", "10.0.0.3")])
    assert [(u.dial, u.weight) for u in route.pool.upstreams] == [("10.0.0.2:80", 3)]
    assert route.pool.algorithm == "least_conn" and route.pool.sticky_cookie == "s" and route.pool.health is None
    assert route.pool.retries > 0 and route.pool.passive_fail_seconds > 0
    assert route.hostnames == ("web-u.localhost",) and route.port is None and route.preserve_host


CADDY_METRICS = """\
# TYPE caddy_http_request_duration_seconds histogram
caddy_http_request_duration_seconds_bucket{code="200",handler="reverse_proxy",host="a.localhost",method="GET",server="http",le="0.005"} 3
caddy_http_request_duration_seconds_bucket{code="200",handler="reverse_proxy",host="a.localhost",method="GET",server="http",le="+Inf"} 4
caddy_http_request_duration_seconds_sum{code="200",handler="reverse_proxy",host="a.localhost",method="GET",server="http"} 0.5
caddy_http_request_duration_seconds_count{code="200",handler="reverse_proxy",host="a.localhost",method="GET",server="http"} 4
caddy_http_request_duration_seconds_bucket{code="502",handler="reverse_proxy",host="a.localhost",method="GET",server="https",le="0.005"} 0
caddy_http_request_duration_seconds_bucket{code="502",handler="reverse_proxy",host="a.localhost",method="GET",server="https",le="+Inf"} 1
caddy_http_request_duration_seconds_sum{code="502",handler="reverse_proxy",host="a.localhost",method="GET",server="https"} 3
caddy_http_request_duration_seconds_count{code="502",handler="reverse_proxy",host="a.localhost",method="GET",server="https"} 1
caddy_http_request_duration_seconds_count{code="200",handler="reverse_proxy",host="b.localhost",method="GET",server="http"} 7
caddy_http_request_duration_seconds_count{code="404",handler="reverse_proxy",host="_other",method="GET",server="port-18001"} 2
"""


def test_traffic_of_one_route_from_caddy_metrics() -> None:
    t = traffic(CADDY_METRICS, hostnames=("a.localhost",))
    assert t.requests == 5 and t.by_class["2xx"] == 4 and t.by_class["5xx"] == 1
    assert t.buckets == {"0.005": 3, "+Inf": 5} and t.sum_seconds == 3.5
    assert traffic(CADDY_METRICS, port=18001).by_class["4xx"] == 2
    assert traffic(CADDY_METRICS, hostnames=("c.localhost",)).requests == 0


def test_a_target_whose_address_went_dead_leaves_the_pool_after_the_grace() -> None:
    import datetime as dt

    from cumulo.core.clock import utcnow

    now = utcnow()
    ok = _target("healthy", "10.0.0.2")
    dead = _target("unhealthy", "10.0.0.3")
    dead.reason_code, dead.health_since = health.CONNECT_FAILED, now - dt.timedelta(seconds=1)
    wrong = _target("unhealthy", "10.0.0.4")
    wrong.reason_code, wrong.health_since = "Target.ResponseCodeMismatch", now - dt.timedelta(seconds=1)
    assert pool.upstream_targets([ok, dead, wrong], now) == [ok, dead]  # dials to it may still be pending
    later = now + dt.timedelta(seconds=pool.REMOVAL_GRACE)
    assert pool.upstream_targets([ok, dead, wrong], later) == [ok]
    assert pool.grace_ends([ok, dead, wrong]) == [dead.health_since + dt.timedelta(seconds=pool.REMOVAL_GRACE)]
