// One implementation for the coordinator and the agents (the agents decide exits with it).
export { softmax, argmaxOf as argmax } from '@edgerelay/device-agent';
