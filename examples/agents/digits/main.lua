-- The input: {"pixels": [64 numbers from 0 to 16]}, row by row; or several images at once as
-- {"images": [[64 numbers], ...]} (at most 100).
local function top3(p)
  local order = {}
  for k = 1, #p do order[k] = k end
  table.sort(order, function(a, b) return p[a] > p[b] end)
  local out = {}
  for i = 1, 3 do
    out[i] = {digit = order[i] - 1, p = math.floor(p[order[i]] * 10000 + 0.5) / 10000}
  end
  return out
end

function handle(input)
  local images = input.images or {input.pixels}
  if #images == 0 or #images > 100 then error("between 1 and 100 images per call") end
  local answers = model.predict("model.json", images)
  local out = {}
  for i, a in ipairs(answers) do out[i] = top3(a.p) end
  if input.images then return {results = out} end
  return {top = out[1]}
end
