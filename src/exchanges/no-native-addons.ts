// Side-effect module, imported first by every module that loads `ws` (through ccxt and the Alpaca
// SDK): ws loads the prebuilt native addon `bufferutil` (an optional dependency of ccxt, installed
// with its binary even though its install script is denied) unless these documented switches are
// set before ws is evaluated. Native code outside Node would widen the trusted base for a few
// microseconds of websocket masking this service never uses (it speaks REST only). Set, not
// defaulted: the environment cannot turn the addon back on.
process.env['WS_NO_BUFFER_UTIL'] = '1';
process.env['WS_NO_UTF_8_VALIDATE'] = '1';

export {};
