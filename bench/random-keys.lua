-- wrk script: every request asks for the pixel with one of 100,000 keys, at random.
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/pixel.gif?key=document:" .. math.random(1, 100000))
end
