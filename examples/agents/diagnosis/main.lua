-- The input: {"measurements": [30 numbers]}, in the data set's column order (the model file
-- names them). The schema has checked the shape; the script checks the values.
local CLASSES = {[0] = "malignant", [1] = "benign"}

function handle(input)
  local row = input.measurements
  for i, v in ipairs(row) do
    if v ~= v or v < 0 or v == math.huge then
      error("measurement " .. i .. " is not a finite number of at least 0")
    end
  end
  local answer = model.predict("model.json", {row})[1]
  local p = answer.p[answer.class + 1]
  return {
    class = CLASSES[answer.class],
    probability = math.floor(p * 10000 + 0.5) / 10000,
    risk = answer.class == 0 and (p >= 0.9 and "high" or "elevated") or "low",
  }
end
