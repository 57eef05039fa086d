// Original file: proto/control.proto


export interface GroupMember {
  'agentId'?: (string);
  'heads'?: (number)[];
  'ffnColumns'?: (number)[];
  'positionShare'?: (number | string);
  '_positionShare'?: "positionShare";
}

export interface GroupMember__Output {
  'agentId': (string);
  'heads': (number)[];
  'ffnColumns': (number)[];
  'positionShare'?: (number);
  '_positionShare'?: "positionShare";
}
