-- flow.lua - what vigil does with a violation, once the policies have decided.
--
-- Called for every violation with the event, the policy (its normalised
-- table), the policy's current enforcement ("inform", "kill_process",
-- "kill_pod": switchable at run time) and `vigil`, the bindings for this one
-- violation:
--   vigil.store()                  record the violation in its alert (durable before
--                                  acknowledged); returns the alert ({ id = ... }), or
--                                  false when it could not be stored; once per violation
--   vigil.enforce(action[, alert]) kill the process or the pod; false when it did not (and
--                                  always when the policy's check() failed, unless its
--                                  on_error is "enforce": the skip is recorded on the alert);
--                                  before store(), it stores the violation first, so what it
--                                  did is always on the alert
--   vigil.notify([alert])          hand the alert to the notifiers (the policy's own, else
--                                  default_notifiers); false before store()
--   vigil.log(msg)
-- enforce and notify act on the alert store() returned; passing it is optional.
-- `vigil` is valid only while its violation's flow runs.
-- A policy's own `on_violation(ev, vigil, enforcement)` replaces this flow
-- for that policy. If the flow fails, vigil stores the violation anyway.
return function(ev, policy, enforcement, vigil)
	if policy.on_violation then
		return policy.on_violation(ev, vigil, enforcement)
	end
	local alert = vigil.store() -- false when it could not be stored: then none to act on
	if enforcement ~= "inform" then
		vigil.enforce(enforcement, alert)
	end
	vigil.notify(alert)
end
