package config

import "github.com/fastgate/gateway/config/yamlcodec"

// codec reads and writes the schema: the types every schema has, and the
// named types of this one that are not read as their kind is.
var codec = yamlcodec.New(byteSizeCodec, rateCodec, targetCodec)
