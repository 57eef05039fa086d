// Original file: proto/control.proto

import type { GroupMember as _edgerelay_control_GroupMember, GroupMember__Output as _edgerelay_control_GroupMember__Output } from '../../edgerelay/control/GroupMember.js';

export interface Stage {
  'layerStart'?: (number);
  'layerEnd'?: (number);
  'host'?: (string);
  'members'?: (_edgerelay_control_GroupMember)[];
  'form'?: (string);
  'positionTiles'?: (number);
  '_form'?: "form";
  '_positionTiles'?: "positionTiles";
}

export interface Stage__Output {
  'layerStart': (number);
  'layerEnd': (number);
  'host': (string);
  'members': (_edgerelay_control_GroupMember__Output)[];
  'form'?: (string);
  'positionTiles'?: (number);
  '_form'?: "form";
  '_positionTiles'?: "positionTiles";
}
