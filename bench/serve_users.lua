-- serve_users.lua — wrk script for bench/serve_latency.sh: GET
-- /v1/recommend?n=10 for users drawn at random from USER_PREFIX..1..USERS
-- (ml-latest-small's ids are 1..610; synthetic ones u0..u<N-1>), and a
-- count of replies that are not 200 (wrk counts only socket errors and
-- non-2xx/3xx ones itself).
local prefix = os.getenv("USER_PREFIX") or ""
local first = tonumber(os.getenv("USER_FIRST") or "1")
local users = tonumber(os.getenv("USERS") or "610")

request = function()
  local u = prefix .. tostring(math.random(first, first + users - 1))
  return wrk.format("GET", "/v1/recommend?n=10&user=" .. u)
end
