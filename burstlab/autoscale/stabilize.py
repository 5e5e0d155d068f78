"""The HPA's decision at each poll: stabilisation windows, then scaling-policy step limits.

Pure and clock-free (every call gets ``now``), so the live autoscaler and the fluid model take
the very same decisions. It follows the HPA controller (``normalizeDesiredReplicasWithBehaviors``):

- every poll's raw recommendation (:func:`~burstlab.scenario.autoscale.desired_replicas`) is kept;
- scaling up goes at most to the *minimum* recommendation of the last
  ``scale_up_stabilization_s``, scaling down at least to the *maximum* of the last
  ``scale_down_stabilization_s`` (a short spike does not flap the count);
- at most ``scale_up_max_step`` replicas are added (``scale_down_max_step`` removed) in any
  ``step_period_s``, counted from the scale events of that period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from burstlab.scenario.autoscale import AutoscalePolicy, desired_replicas


@dataclass(frozen=True)
class Decision:
    """One poll: when, what the metric read, what the formula asked, what was set."""

    at_s: float
    metric: float
    raw: int
    desired: int
    current: int


@dataclass
class Stabilizer:
    """Remembers recent recommendations and scale events of one scaled target."""

    policy: AutoscalePolicy
    _recommendations: list[tuple[float, int]] = field(default_factory=list)
    _events: list[tuple[float, int]] = field(default_factory=list)

    def decide(self, now: float, metric: float, current: int) -> Decision:
        """The replica count to set at ``now`` given the metric and the count running."""
        policy = self.policy
        raw = desired_replicas(policy, max(metric, 0.0))
        self._recommendations.append((now, raw))
        keep = max(policy.scale_up_stabilization_s, policy.scale_down_stabilization_s)
        self._recommendations = [(t, r) for t, r in self._recommendations if t >= now - keep]
        up = min(r for t, r in self._recommendations if t >= now - policy.scale_up_stabilization_s)
        down = max(
            r for t, r in self._recommendations if t >= now - policy.scale_down_stabilization_s
        )
        wanted = current
        if wanted < up:
            wanted = up
        if wanted > down:
            wanted = down
        wanted = self._limit(now, current, wanted)
        if wanted != current:
            self._events.append((now, wanted - current))
        return Decision(now, metric, raw, wanted, current)

    def _limit(self, now: float, current: int, wanted: int) -> int:
        policy = self.policy
        period = [delta for t, delta in self._events if t > now - policy.step_period_s]
        self._events = [(t, d) for t, d in self._events if t > now - policy.step_period_s]
        added = sum(d for d in period if d > 0)
        removed = -sum(d for d in period if d < 0)
        if wanted > current:
            ceiling = current - added + policy.scale_up_max_step
            return max(current, min(wanted, ceiling, policy.max_replicas))
        if wanted < current:
            floor = current + removed - policy.scale_down_max_step
            return min(current, max(wanted, floor, policy.min_replicas))
        return wanted
