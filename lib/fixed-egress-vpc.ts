/**
 * A VPC whose only route out is one NAT gateway with an Elastic IP: every connection from
 * its private subnets leaves from one fixed address, which mail servers can allow-list.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  CfnEIP,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  NatProvider,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface FixedEgressVpcProps {
  /**
   * Availability zones with private subnets. All of them route through the one NAT gateway
   * (one address; that NAT gateway's zone is a single point of failure for egress).
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * Retention of the VPC flow logs (rejected traffic only).
   * @default RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: RetentionDays;
}

export class FixedEgressVpc extends Construct {
  readonly vpc: Vpc;
  /** The Elastic IP every outbound connection comes from (the stack outputs its address as `EgressIpAddress`). */
  readonly elasticIp: CfnEIP;

  constructor(scope: Construct, id: string, props: FixedEgressVpcProps = {}) {
    super(scope, id);
    this.elasticIp = new CfnEIP(this, 'EgressIp', { domain: 'vpc' });

    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc = new Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? 2,
      natGateways: 1,
      natGatewayProvider: NatProvider.gateway({ eipAllocationIds: [this.elasticIp.attrAllocationId] }),
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      // S3 and DynamoDB traffic skips the NAT gateway (no per-GB NAT charge for message bodies).
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        Rejected: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.REJECT },
      },
    });
  }
}
