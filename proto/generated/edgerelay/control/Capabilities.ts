// Original file: proto/control.proto

import type { Long } from '@grpc/proto-loader';

export interface Capabilities {
  'cores'?: (number);
  'cpuModel'?: (string);
  'memoryTotalBytes'?: (number | string | Long);
  'memoryFreeBytes'?: (number | string | Long);
  'loadAverage'?: (number | string);
  'gflops'?: (number | string);
  'threads'?: (number);
  'platform'?: (string);
  'arch'?: (string);
  'int8Gflops'?: (number | string);
}

export interface Capabilities__Output {
  'cores': (number);
  'cpuModel': (string);
  'memoryTotalBytes': (number);
  'memoryFreeBytes': (number);
  'loadAverage': (number);
  'gflops': (number);
  'threads': (number);
  'platform': (string);
  'arch': (string);
  'int8Gflops': (number);
}
