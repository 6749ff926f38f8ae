-- Test only: prints the table nmap built from --script-args
-- (nmap.registry.args) in one canonical line, so that scan's tests can
-- compare nmap's parse with ParseScriptArgs. Profiles cannot reach it:
-- --script refuses paths.
description = [[Prints nmap.registry.args canonically (Scantron tests).]]
author = "Scantron"
license = "Same as Nmap--See https://nmap.org/book/man-legal.html"
categories = {"safe"}

prerule = function() return true end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- A table is {entries}, positional entries first as #n=value, then named
-- ones as k<hex key>=value ordered by hex key; a string is s<hex>.
local function ser(v)
  if type(v) ~= "table" then
    return "s" .. hex(tostring(v))
  end
  local ints, strs = {}, {}
  for k in pairs(v) do
    if type(k) == "number" then
      ints[#ints + 1] = k
    else
      strs[#strs + 1] = hex(k)
    end
  end
  table.sort(ints)
  table.sort(strs)
  local out = {}
  for _, k in ipairs(ints) do
    out[#out + 1] = "#" .. k .. "=" .. ser(v[k])
  end
  for _, h in ipairs(strs) do
    local k = h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)
    out[#out + 1] = "k" .. h .. "=" .. ser(v[k])
  end
  return "{" .. table.concat(out, ",") .. "}"
end

action = function()
  io.stdout:write("SCANTRON-ARGS " .. ser(nmap.registry.args) .. "\n")
  io.stdout:flush()
end
