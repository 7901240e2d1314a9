-- wrk script for the paced runs of scripts/loadbench.sh: each connection
-- waits WRK_PACE_MS milliseconds after an answer before it sends its next
-- request. With the wait much longer than a request takes, the load a
-- server gets depends on the connections and the wait, not on how fast it
-- answers: two servers loaded this way get the same requests per second.
local pace = tonumber(os.getenv("WRK_PACE_MS") or "5")

function delay()
	return pace
end
