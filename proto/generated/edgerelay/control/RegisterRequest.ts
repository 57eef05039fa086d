// Original file: proto/control.proto

import type { Capabilities as _edgerelay_control_Capabilities, Capabilities__Output as _edgerelay_control_Capabilities__Output } from '../../edgerelay/control/Capabilities.js';

export interface RegisterRequest {
  'name'?: (string);
  'dataAddress'?: (string);
  'capabilities'?: (_edgerelay_control_Capabilities | null);
  'cachedShards'?: (string)[];
  'nonce'?: (string);
  'proof'?: (string);
  'instanceId'?: (string);
}

export interface RegisterRequest__Output {
  'name': (string);
  'dataAddress': (string);
  'capabilities': (_edgerelay_control_Capabilities__Output | null);
  'cachedShards': (string)[];
  'nonce': (string);
  'proof': (string);
  'instanceId': (string);
}
