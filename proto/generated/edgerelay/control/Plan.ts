// Original file: proto/control.proto

import type { Stage as _edgerelay_control_Stage, Stage__Output as _edgerelay_control_Stage__Output } from '../../edgerelay/control/Stage.js';
import type { AgentEndpoint as _edgerelay_control_AgentEndpoint, AgentEndpoint__Output as _edgerelay_control_AgentEndpoint__Output } from '../../edgerelay/control/AgentEndpoint.js';
import type { ExitRule as _edgerelay_control_ExitRule, ExitRule__Output as _edgerelay_control_ExitRule__Output } from '../../edgerelay/control/ExitRule.js';
import type { Long } from '@grpc/proto-loader';

export interface Plan {
  'version'?: (number | string | Long);
  'modelId'?: (string);
  'stages'?: (_edgerelay_control_Stage)[];
  'endpoints'?: (_edgerelay_control_AgentEndpoint)[];
  'exit'?: (_edgerelay_control_ExitRule | null);
  'numLabels'?: (number);
  'exitLayers'?: (number)[];
  'wireDtype'?: (string);
  'numLayers'?: (number);
  'hiddenSize'?: (number);
}

export interface Plan__Output {
  'version': (number);
  'modelId': (string);
  'stages': (_edgerelay_control_Stage__Output)[];
  'endpoints': (_edgerelay_control_AgentEndpoint__Output)[];
  'exit': (_edgerelay_control_ExitRule__Output | null);
  'numLabels': (number);
  'exitLayers': (number)[];
  'wireDtype': (string);
  'numLayers': (number);
  'hiddenSize': (number);
}
